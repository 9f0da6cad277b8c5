"""Learning-rate schedules that set ``group["lr"]`` of an optimizer's parameter groups.

Usage mirrors ``torch.optim.lr_scheduler``::

    opt = Adam(params, lr=1e-3)
    sched = CosineAnnealingLR(opt, T_max=100)
    for epoch in range(100):
        train_one_epoch(opt)        # calls opt.step()
        sched.step()                # lr for the next epoch

Creating a scheduler records each group's starting rate as ``group["initial_lr"]`` (the *base
lr*) and sets epoch 0. The rules are PyTorch's (2.x), including its *chainable* form: StepLR,
ExponentialLR and CosineAnnealingLR compute the next rate from the group's **current** ``lr``
(multiply by ``gamma``, or follow the cosine by the ratio of consecutive values), so two
schedulers on one optimizer compose (StepLR(step_size=2, gamma=0.5) and ExponentialLR(0.9) give
0.9, 0.405, 0.3645 from lr 1), and a change made to ``group["lr"]`` in between carries forward.
LambdaLR and OneCycleLR set the rate from the base lr alone. ReduceLROnPlateau lowers the current
rate when a metric stops improving.

A parameter group added to the optimizer after the scheduler was made joins the schedule at its
current ``lr`` (which becomes its base lr) at the next :meth:`LRScheduler.step`.

``state_dict()`` is plain data; ``load_state_dict()`` checks every key, type and length against
the scheduler's own state before changing anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from minigrad.optim.optimizer import Optimizer

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "StepLR",
]


def _positive_int(value: object, what: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{owner}: {what} must be a positive integer, got {value!r}")
    return int(value)


def _finite(value: object, what: str, owner: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{owner}: {what} must be a real number, got {value!r}")
    if not math.isfinite(value) or (value <= 0 if positive else value < 0):
        raise ValueError(f"{owner}: invalid {what} {value}")
    return float(value)


def _is_int(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | np.integer)


def _is_real(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating)


def _per_group(value: Any, n: int, what: str, owner: str) -> list[float]:
    """A number for every group: one for all, or a list or tuple of ``n``."""
    values = list(value) if isinstance(value, list | tuple) else [value] * n
    if len(values) != n:
        raise ValueError(f"{owner}: expected {n} values of {what} (one per parameter group), "
                         f"got {len(values)}")
    return [_finite(v, what, owner) for v in values]


#: State entries that are learning rates: finite and >= 0 when loaded.
_RATE_KEYS = frozenset({"base_lrs", "_last_lr", "min_lrs"})


class LRScheduler:
    """Base class: subclasses implement :meth:`get_lr`, called by :meth:`step`.

    Args:
        optimizer: the :class:`~minigrad.optim.Optimizer` whose learning rates to set.
        last_epoch: the index of the last epoch when resuming; ``-1`` starts fresh. When
            resuming, each group must already have ``"initial_lr"`` (as saved by the optimizer's
            state dict).

    Attributes:
        base_lrs: the starting learning rate of each group.
        last_epoch: the current epoch index (0 right after construction).
    """

    _not_saved: tuple[str, ...] = ("optimizer", "_is_initial")

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{name}: expected a minigrad Optimizer, got {type(optimizer).__name__}"
            )
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"{name}: last_epoch must be an integer >= -1, got {last_epoch!r}")
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{name}: param group {i} has no 'initial_lr', which is needed to resume "
                        f"at last_epoch={last_epoch}"
                    )
        self.optimizer = optimizer
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch: int = last_epoch
        self._step_count = 0
        self._last_lr: list[float] = [group["lr"] for group in optimizer.param_groups]
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rates for the epoch ``last_epoch`` (one per group), computed by
        :meth:`step` after it advanced the epoch; chainable schedules read ``group["lr"]``."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates most recently set by :meth:`step`."""
        return list(self._last_lr)

    def _join_new_groups(self) -> None:
        """Give groups added to the optimizer since the last step a base lr (their current lr)."""
        for group in self.optimizer.param_groups[len(self.base_lrs):]:
            group.setdefault("initial_lr", group["lr"])
            self.base_lrs.append(group["initial_lr"])

    def _updates(self) -> list[dict[str, Any]]:
        """The new values of each group's entries (``lr``, and momentum for OneCycleLR)."""
        return [{"lr": lr} for lr in self.get_lr()]

    def step(self) -> None:
        """Advance one epoch and set every group's ``"lr"``.

        The new rates are computed first; if that fails (e.g. OneCycleLR past its last step)
        the epoch counter and the optimizer are left as they were.
        """
        self._join_new_groups()
        self.last_epoch += 1
        self._step_count += 1
        try:
            updates = self._updates()
            for i, update in enumerate(updates):
                lr = update["lr"]
                if not (_is_real(lr) and math.isfinite(lr)):
                    raise ValueError(f"{type(self).__name__}: the schedule gives learning rate "
                                     f"{lr!r} for parameter group {i} at epoch {self.last_epoch}")
        except BaseException:
            self.last_epoch -= 1
            self._step_count -= 1
            raise
        for group, update in zip(self.optimizer.param_groups, updates, strict=True):
            group.update(update)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state (everything except the optimizer) as plain data."""
        return {
            k: (list(v) if isinstance(v, list) else v)
            for k, v in vars(self).items()
            if k not in self._not_saved
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` and set the optimizer's rates to the restored ones.

        The keys, value types and lengths must match this scheduler's own state, and learning
        rates must be finite and >= 0; everything is checked first, so on error nothing changes.
        """
        name = type(self).__name__
        current = self.state_dict()
        expected = set(current)
        if not isinstance(state_dict, Mapping) or set(state_dict) != expected:
            got = sorted(state_dict) if isinstance(state_dict, Mapping) else type(state_dict)
            raise ValueError(
                f"{name}: expected a state dict with keys {sorted(expected)}, got {got}"
            )
        restored = {k: _like(state_dict[k], ref, k, name) for k, ref in current.items()}
        n_groups = len(self.optimizer.param_groups)
        for key in ("_last_lr", "base_lrs", "min_lrs"):
            value = restored.get(key)
            if value is None:
                continue
            if len(value) != n_groups:
                raise ValueError(
                    f"{name}: {key!r} in the state dict must be a list of {n_groups} "
                    f"learning rates (one per parameter group), got {value!r}"
                )
        for key, value in restored.items():
            setattr(self, key, value)
        # Re-apply the restored rates, whatever order the optimizer and scheduler were loaded in.
        for group, lr in zip(self.optimizer.param_groups, self._last_lr, strict=True):
            group["lr"] = lr


def _like(value: Any, ref: Any, key: str, owner: str) -> Any:
    """``value`` converted to the type of ``ref`` (this scheduler's own entry), or an error."""
    if isinstance(ref, list):
        if not isinstance(value, list | tuple):
            raise ValueError(f"{owner}: {key!r} in the state dict must be a list, got {value!r}")
        if ref and all(_is_real(r) for r in ref) or key in _RATE_KEYS:
            if not all(_is_real(v) for v in value):
                raise TypeError(f"{owner}: {key!r} must hold real numbers, got {value!r}")
            if key in _RATE_KEYS and not all(math.isfinite(v) and v >= 0 for v in value):
                raise ValueError(f"{owner}: {key!r} must hold finite learning rates >= 0, "
                                 f"got {value!r}")
            return [float(v) for v in value]
        if len(value) != len(ref):
            raise ValueError(f"{owner}: {key!r} in the state dict must have {len(ref)} entries, "
                             f"got {len(value)}")
        return [_like(v, r, key, owner) for v, r in zip(value, ref, strict=True)]
    if isinstance(ref, dict):
        if not isinstance(value, Mapping) or set(value) != set(ref):
            raise ValueError(f"{owner}: {key!r} in the state dict must be a dict with keys "
                             f"{sorted(ref)}, got {value!r}")
        return {k: _like(value[k], ref[k], key, owner) for k in ref}
    if isinstance(ref, bool):
        if not isinstance(value, bool | np.bool_):
            raise TypeError(f"{owner}: {key!r} must be True or False, got {value!r}")
        return bool(value)
    if isinstance(ref, int):
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if not _is_int(value):
            raise TypeError(f"{owner}: {key!r} must be an integer, got {value!r}")
        return int(value)
    if isinstance(ref, float) or ref is None:
        if ref is None and value is None:
            return None
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if not _is_real(value):
            raise TypeError(f"{owner}: {key!r} must be a real number, got {value!r}")
        return float(value)
    if isinstance(ref, str):
        allowed = _CHOICES.get(key, (ref,))
        if value not in allowed:
            raise ValueError(f"{owner}: {key!r} must be one of {list(allowed)}, got {value!r}")
        return str(value)
    return value


#: The string settings a state dict may change, with their possible values.
_CHOICES = {
    "mode": ("min", "max"),
    "threshold_mode": ("rel", "abs"),
    "anneal_strategy": ("cos", "linear"),
}


class StepLR(LRScheduler):
    """Decay by ``gamma`` every ``step_size`` epochs.

    Alone it gives ``lr = base_lr * gamma ** (epoch // step_size)``; as in PyTorch, each decay
    multiplies the group's current ``lr`` (so it composes with other schedulers).
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = _positive_int(step_size, "step_size", "StepLR")
        self.gamma = _finite(gamma, "gamma", "StepLR", positive=True)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]


class ExponentialLR(LRScheduler):
    """Decay by ``gamma`` every epoch: alone, ``lr = base_lr * gamma ** epoch``; each step
    multiplies the group's current ``lr``."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = _finite(gamma, "gamma", "ExponentialLR", positive=True)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the base lr to ``eta_min`` over ``T_max`` epochs; alone::

        lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    Computed as PyTorch does, recursively from the current ``lr`` (the ratio of consecutive
    cosine terms), so it composes with other schedulers. After ``T_max`` the cosine continues
    and the rate rises again.
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max = _positive_int(T_max, "T_max", "CosineAnnealingLR")
        self.eta_min = _finite(eta_min, "eta_min", "CosineAnnealingLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._lrs()
        if (t - 1 - T) % (2 * T) == 0:
            # NOTE: at the bottom of the cosine the recursive ratio below would divide by
            # 1 + cos(pi) = 0; the next value is the first step up from eta_min instead.
            return [lr + (base - lo) * (1 - math.cos(math.pi / T)) / 2
                    for lr, base in zip(self._lrs(), self.base_lrs, strict=True)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - lo) + lo for lr in self._lrs()]


class LambdaLR(LRScheduler):
    """``lr = base_lr * lr_lambda(epoch)``, with one function for all groups or one per group.

    The functions are not part of :meth:`state_dict`; pass the same ones when resuming. A group
    added to the optimizer later uses the single function (with a list, that is an error).
    """

    _not_saved = ("optimizer", "_is_initial", "lr_lambdas", "_one_lambda")

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        n = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 0
        self._one_lambda = callable(lr_lambda)
        if callable(lr_lambda):
            self.lr_lambdas = [lr_lambda] * n
        else:
            self.lr_lambdas = list(lr_lambda)
            if len(self.lr_lambdas) != n:
                raise ValueError(f"LambdaLR: expected {n} lr_lambdas, got {len(self.lr_lambdas)}")
            for f in self.lr_lambdas:
                if not callable(f):
                    raise TypeError(f"LambdaLR: lr_lambda entries must be callable, got {f!r}")
        super().__init__(optimizer, last_epoch)

    def _join_new_groups(self) -> None:
        n = len(self.optimizer.param_groups)
        if n > len(self.lr_lambdas):
            if not self._one_lambda:
                raise ValueError(
                    f"LambdaLR: the optimizer now has {n} parameter groups but "
                    f"{len(self.lr_lambdas)} lr_lambdas were given; make a new LambdaLR with one "
                    "function per group"
                )
            self.lr_lambdas += [self.lr_lambdas[0]] * (n - len(self.lr_lambdas))
        super()._join_new_groups()

    def get_lr(self) -> list[float]:
        return [base * f(self.last_epoch)
                for base, f in zip(self.base_lrs, self.lr_lambdas, strict=True)]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith and Topin, 2018), as ``torch.optim.lr_scheduler.OneCycleLR``.

    Stepped once per **batch**, for ``total_steps`` (or ``epochs * steps_per_epoch``) steps. The
    rate rises from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of the
    steps, then falls to ``initial_lr / final_div_factor`` (with ``three_phase``: back to the
    initial rate first, then down), annealed by a cosine (``anneal_strategy="cos"``) or linearly.
    With ``cycle_momentum`` the momentum (SGD's ``momentum``, Adam's ``beta1``) moves the opposite
    way, between ``max_momentum`` and ``base_momentum``. Stepping past ``total_steps`` raises.
    """

    _not_saved = ("optimizer", "_is_initial")

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        who = "OneCycleLR"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{who}: expected a minigrad Optimizer, got {type(optimizer).__name__}")
        if total_steps is not None:
            self.total_steps = _positive_int(total_steps, "total_steps", who)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (_positive_int(epochs, "epochs", who)
                                * _positive_int(steps_per_epoch, "steps_per_epoch", who))
        else:
            raise ValueError(f"{who}: give either total_steps or both epochs and steps_per_epoch")
        pct = _finite(pct_start, "pct_start", who)
        if not 0.0 <= pct <= 1.0:
            raise ValueError(f"{who}: pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{who}: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        div = _finite(div_factor, "div_factor", who, positive=True)
        final_div = _finite(final_div_factor, "final_div_factor", who, positive=True)
        n = len(optimizer.param_groups)
        max_lrs = _per_group(max_lr, n, "max_lr", who)
        up = float(pct * self.total_steps) - 1
        self._schedule_phases: list[dict[str, Any]]
        if three_phase:
            self._schedule_phases = [
                {"end_step": up, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct * self.total_steps) - 2, "start_lr": "max_lr",
                 "end_lr": "initial_lr", "start_momentum": "base_momentum",
                 "end_momentum": "max_momentum"},
                {"end_step": float(self.total_steps - 1), "start_lr": "initial_lr",
                 "end_lr": "min_lr", "start_momentum": "max_momentum",
                 "end_momentum": "max_momentum"},
            ]
        else:
            self._schedule_phases = [
                {"end_step": up, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(self.total_steps - 1), "start_lr": "max_lr",
                 "end_lr": "min_lr", "start_momentum": "base_momentum",
                 "end_momentum": "max_momentum"},
            ]
        if not isinstance(cycle_momentum, bool | np.bool_):
            raise TypeError(f"{who}: cycle_momentum must be True or False, got {cycle_momentum!r}")
        self.cycle_momentum = bool(cycle_momentum)
        self.use_beta1 = "betas" in optimizer.defaults
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and not self.use_beta1:
                raise ValueError(f"{who}: cycle_momentum needs an optimizer with momentum or "
                                 f"betas; {type(optimizer).__name__} has neither (pass "
                                 "cycle_momentum=False)")
            max_ms = _per_group(max_momentum, n, "max_momentum", who)
            base_ms = _per_group(base_momentum, n, "base_momentum", who)
        if last_epoch == -1:
            for i, group in enumerate(optimizer.param_groups):
                group["initial_lr"] = max_lrs[i] / div
                group["max_lr"] = max_lrs[i]
                group["min_lr"] = group["initial_lr"] / final_div
                if self.cycle_momentum:
                    if self.use_beta1:
                        group["betas"] = (max_ms[i], *group["betas"][1:])
                    else:
                        group["momentum"] = max_ms[i]
                    group["max_momentum"] = max_ms[i]
                    group["base_momentum"] = base_ms[i]
        super().__init__(optimizer, last_epoch)

    def _join_new_groups(self) -> None:
        n = len(self.optimizer.param_groups)
        if n > len(self.base_lrs):
            raise ValueError(f"OneCycleLR: the optimizer now has {n} parameter groups, "
                             f"{len(self.base_lrs)} when the schedule was made; a new group "
                             "needs its own max_lr: make a new OneCycleLR")

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _updates(self) -> list[dict[str, Any]]:
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {t} times; the schedule has "
                             f"total_steps={self.total_steps}")
        updates = []
        for group in self.optimizer.param_groups:
            start = 0.0
            update: dict[str, Any] = {}
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if t <= end or i == len(self._schedule_phases) - 1:
                    pct = (t - start) / (end - start)
                    update = {
                        "lr": self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    }
                    if self.cycle_momentum:
                        m = self._anneal(group[phase["start_momentum"]],
                                         group[phase["end_momentum"]], pct)
                        if self.use_beta1:
                            update["betas"] = (m, *group["betas"][1:])
                        else:
                            update["momentum"] = m
                    break
                start = end
            updates.append(update)
        return updates

    def get_lr(self) -> list[float]:
        return [u["lr"] for u in self._updates()]


class ReduceLROnPlateau(LRScheduler):
    """Multiply the rate by ``factor`` when a metric has stopped improving, as in PyTorch.

    Call ``step(metric)`` once per epoch with the validation loss (``mode="min"``) or accuracy
    (``mode="max"``). A value is an improvement when it beats the best so far by more than
    ``threshold`` (relative: ``best * (1 - threshold)`` in min mode; absolute: ``best -
    threshold``). After more than ``patience`` epochs without one, every group's rate becomes
    ``max(lr * factor, min_lr)`` (unless that changes it by ``eps`` or less), and ``cooldown``
    epochs pass before bad epochs are counted again.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        who = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{who}: expected a minigrad Optimizer, got {type(optimizer).__name__}")
        self.factor = _finite(factor, "factor", who)
        if not self.factor < 1.0:
            raise ValueError(f"{who}: factor must be < 1.0, got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"{who}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{who}: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        for value, what in ((patience, "patience"), (cooldown, "cooldown")):
            if not _is_int(value) or value < 0:
                raise ValueError(f"{who}: {what} must be an integer >= 0, got {value!r}")
        n = len(optimizer.param_groups)
        self.optimizer = optimizer
        if isinstance(min_lr, list | tuple):
            self.default_min_lr: float | None = None
            self.min_lrs = _per_group(min_lr, n, "min_lr", who)
        else:
            self.default_min_lr = _finite(min_lr, "min_lr", who)
            self.min_lrs = [self.default_min_lr] * n
        self.mode = mode
        self.threshold = _finite(threshold, "threshold", who)
        self.threshold_mode = threshold_mode
        self.patience = int(patience)
        self.cooldown = int(cooldown)
        self.eps = _finite(eps, "eps", who)
        self.last_epoch = 0
        self._last_lr = self._lrs()
        self.best = math.inf if mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return a < (best * (1.0 - self.threshold) if self.threshold_mode == "rel"
                        else best - self.threshold)
        return a > (best * (self.threshold + 1.0) if self.threshold_mode == "rel"
                    else best + self.threshold)

    def step(self, metrics: Any = None) -> None:  # type: ignore[override]
        """Record one epoch's ``metrics`` (a number or a one-element Tensor/array)."""
        who = "ReduceLROnPlateau"
        if metrics is None:
            raise TypeError(f"{who}.step: pass the metric to watch, e.g. step(val_loss)")
        try:
            current = float(getattr(metrics, "data", metrics))
        except (TypeError, ValueError):
            raise TypeError(f"{who}.step: the metric must be a number, got {metrics!r}") from None
        n = len(self.optimizer.param_groups)
        if n != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ValueError(f"{who}: the optimizer now has {n} parameter groups but "
                                 f"min_lr gave {len(self.min_lrs)}; set min_lrs to one per group")
            self.min_lrs = [self.default_min_lr] * n
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
                old = float(group["lr"])
                new = max(old * self.factor, min_lr)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._lrs()

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0
