"""The :class:`Optimizer` base class: parameter groups, gradient handling, state dicts."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from minigrad.optim._functional import write_

__all__ = ["Optimizer", "ParamLike"]


@runtime_checkable
class ParamLike(Protocol):
    """What an optimizer needs from a parameter (a minigrad ``Tensor`` qualifies).

    ``data`` is a floating-point ndarray that the optimizer updates in place; ``grad`` is
    ``None`` or the gradient: an object whose ``.data`` is an ndarray of the same shape (a
    ``Tensor``), or a plain ndarray.
    """

    data: Any
    grad: Any


# Group keys every optimizer accepts besides its own hyperparameters: ``initial_lr`` is added by
# the learning-rate schedulers (``max_lr``, ``min_lr``, ``max_momentum`` and ``base_momentum`` by
# OneCycleLR), ``name`` is free for users.
_EXTRA_GROUP_KEYS = frozenset(
    {"initial_lr", "name", "max_lr", "min_lr", "max_momentum", "base_momentum"}
)


def _is_parameter_like(obj: object) -> bool:
    return hasattr(obj, "data") and hasattr(obj, "grad") and not isinstance(obj, np.ndarray)


class Optimizer:
    """Base class of the optimizers.

    Args:
        params: an iterable of parameters, or of dicts (*parameter groups*), each with a
            ``"params"`` entry and optional per-group hyperparameters that override the
            optimizer's defaults, as in PyTorch::

                SGD([{"params": body}, {"params": head, "lr": 1e-2}], lr=1e-3, momentum=0.9)

        defaults: default hyperparameters of the concrete optimizer.

    Subclasses implement :meth:`_check_group` (validation), :meth:`_init_state` and
    :meth:`_update` (the update of one parameter array in place).

    Attributes:
        param_groups: list of dicts, ``"params"`` plus the group's hyperparameters. Changing a
            value (e.g. ``group["lr"]``) takes effect at the next :meth:`step`.
        state: per-parameter state, ``{index: {name: array or number}}``, where ``index`` counts
            the parameters across all groups in order.
    """

    #: Names of the per-parameter state arrays (same shape and dtype as the parameter).
    _state_arrays: tuple[str, ...] = ()
    #: Names of per-parameter integer counters.
    _state_counters: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Any], defaults: Mapping[str, Any]) -> None:
        if _is_parameter_like(params) or isinstance(params, np.ndarray | Mapping):
            raise TypeError(
                f"{self._name}: params must be an iterable of parameters or of parameter-group "
                f"dicts, got a single {type(params).__name__}"
            )
        self.defaults: dict[str, Any] = dict(defaults)
        self._check_group(self.defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[int, dict[str, Any]] = {}
        self._params: list[Any] = []
        self._positions: dict[int, int] = {}
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if all(isinstance(g, Mapping) for g in groups):
            for g in groups:
                self.add_param_group(g)
        elif any(isinstance(g, Mapping) for g in groups):
            raise TypeError(f"{self._name}: params mixes parameters and parameter-group dicts")
        else:
            self.add_param_group({"params": groups})

    @property
    def _name(self) -> str:
        return type(self).__name__

    # ------------------------------------------------------------------ groups and parameters

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a group of parameters (a dict with ``"params"`` and optional hyperparameters)."""
        if not isinstance(param_group, Mapping) or "params" not in param_group:
            raise TypeError(f"{self._name}: a parameter group must be a dict with a 'params' key")
        raw = param_group["params"]
        params = [raw] if _is_parameter_like(raw) else list(raw)
        index = len(self.param_groups)
        if not params:
            raise ValueError(f"{self._name}: parameter group {index} has no parameters")
        unknown = set(param_group) - set(self.defaults) - _EXTRA_GROUP_KEYS - {"params"}
        if unknown:
            raise ValueError(
                f"{self._name}: unknown option(s) {sorted(unknown)} in parameter group {index}; "
                f"valid options: {sorted(self.defaults)}"
            )
        seen: set[int] = set()
        for i, p in enumerate(params):
            self._check_parameter(p, f"parameter {len(self._params) + i}")
            if getattr(p, "is_leaf", True) is False:
                raise ValueError(
                    f"{self._name}: can't optimize a non-leaf Tensor: parameter "
                    f"{len(self._params) + i} (shape {tuple(p.shape)}) is the result of an op; "
                    "pass the leaf tensors it was computed from, or x.detach().requires_grad_()"
                )
            if id(p) in self._positions or id(p) in seen:
                raise ValueError(
                    f"{self._name}: some parameters appear more than once "
                    f"(parameter {len(self._params) + i})"
                )
            seen.add(id(p))
        group = {**self.defaults, **{k: v for k, v in param_group.items() if k != "params"}}
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
        self._check_group(group)
        group["params"] = params
        for p in params:
            self._positions[id(p)] = len(self._params)
            self._params.append(p)
        self.param_groups.append(group)

    def _check_parameter(self, p: Any, what: str) -> np.ndarray:
        if isinstance(p, np.ndarray):
            raise TypeError(
                f"{self._name}: {what} is a raw ndarray; pass parameters with .data and .grad "
                "(e.g. minigrad.tensor(..., requires_grad=True))"
            )
        data = getattr(p, "data", None)
        if not isinstance(data, np.ndarray) or not hasattr(p, "grad"):
            raise TypeError(
                f"{self._name}: {what} must have a .data ndarray and a .grad attribute, "
                f"got {type(p).__name__}"
            )
        if data.dtype.kind != "f":
            raise TypeError(
                f"{self._name}: {what} must be floating point to be optimised, got {data.dtype}"
            )
        return data

    def _check_group(self, group: Mapping[str, Any]) -> None:
        """Validate hyperparameters; raise ValueError or TypeError naming the bad value."""

    # ------------------------------------------------------------------ validation helpers

    def _number(self, group: Mapping[str, Any], key: str, what: str) -> float:
        value = group[key]
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise TypeError(f"{self._name}: {what} must be a real number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{self._name}: invalid {what} {value}")
        return float(value)

    def _non_negative(self, group: Mapping[str, Any], key: str, what: str) -> None:
        if self._number(group, key, what) < 0:
            raise ValueError(f"{self._name}: invalid {what} {group[key]}")

    def _flag(self, group: Mapping[str, Any], key: str) -> None:
        if not isinstance(group[key], bool | np.bool_):
            raise TypeError(f"{self._name}: {key} must be True or False, got {group[key]!r}")

    # ------------------------------------------------------------------ stepping

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients: set ``.grad = None`` (default) or fill the gradient with zeros
        (in its own array, through minigrad when it is a Tensor)."""
        for p in self._params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                g = p.grad if isinstance(p.grad, np.ndarray) else getattr(p.grad, "data", None)
                if not isinstance(g, np.ndarray):
                    p.grad = None
                elif g is p.grad:
                    g[...] = 0
                else:
                    write_(p.grad, np.zeros_like(g))

    def _grad(self, p: Any, position: int) -> np.ndarray | None:
        """The gradient of ``p`` as an array of the parameter's dtype, checked: None if there is
        none; ValueError or TypeError (naming the parameter) if it cannot be used."""
        g = p.grad
        if g is None:
            return None
        if not isinstance(g, np.ndarray):
            g = getattr(g, "data", g)
        g = np.asarray(g)
        data = p.data
        if g.shape != data.shape:
            raise ValueError(
                f"{self._name}: gradient of parameter {position} has shape {g.shape}, "
                f"but the parameter has shape {data.shape}"
            )
        if g.dtype.kind not in "fiu":
            raise TypeError(
                f"{self._name}: gradient of parameter {position} has dtype {g.dtype}; "
                f"expected numbers of the parameter's dtype {data.dtype}"
            )
        return g.astype(data.dtype, copy=False)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient (parameters with ``grad is None`` are
        skipped). If ``closure`` is given it is called first (to recompute the loss and
        gradients) and its result is returned.

        All or nothing: every gradient and every group's hyperparameters are checked, and every
        new value and state is computed on copies, before the first parameter is written. On
        any error no parameter, state or step count has changed.
        """
        loss = closure() if closure is not None else None
        work = []
        for group in self.param_groups:
            self._check_group(group)
            for p in group["params"]:
                position = self._positions[id(p)]
                self._check_parameter(p, f"parameter {position}")
                grad = self._grad(p, position)
                if grad is not None:
                    work.append((p, position, grad, group))
        staged = []
        for p, position, grad, group in work:
            value = p.data.copy()
            state = {
                k: (v.copy() if isinstance(v, np.ndarray) else v)
                for k, v in self.state.get(position, {}).items()
            }
            if not state:
                state.update(self._init_state(value, group))
            self._update(value, grad, state, group)
            staged.append((p, position, value, state))
        for p, position, value, state in staged:
            write_(p, value)
            self.state[position] = state
        return loss

    def _init_state(self, param: np.ndarray, group: Mapping[str, Any]) -> dict[str, Any]:
        """The state of a parameter before its first update."""
        return {}

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: Mapping[str, Any]
    ) -> None:
        """Update ``param`` in place from ``grad``; ``state`` is this parameter's state."""
        raise NotImplementedError

    # ------------------------------------------------------------------ state dicts

    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the optimizer as plain data (storable with ``minigrad.checkpoint``).

        Returns ``{"state": {index: {name: ndarray | int}}, "param_groups": [{..., "params":
        [index, ...]}]}``; arrays are copies, parameters are referred to by position.
        """
        state = {
            i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for i, s in sorted(self.state.items())
        }
        groups = [
            {
                **{k: v for k, v in g.items() if k != "params"},
                "params": [self._positions[id(p)] for p in g["params"]],
            }
            for g in self.param_groups
        ]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` (e.g. from ``minigrad.checkpoint.load``).

        The saved optimizer must have the same number of groups with the same number of
        parameters, and every state array must match its parameter's shape. Everything is
        checked first: on any error (``ValueError``/``TypeError``) nothing is changed.
        """
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(
                f"{self._name}: a state dict must have exactly the keys 'state' and 'param_groups'"
            )
        saved_groups = state_dict["param_groups"]
        if not isinstance(saved_groups, list | tuple) or len(saved_groups) != len(
            self.param_groups
        ):
            n = len(saved_groups) if isinstance(saved_groups, list | tuple) else "?"
            raise ValueError(
                f"{self._name}: the state dict has {n} parameter groups, this optimizer has "
                f"{len(self.param_groups)}"
            )
        id_map: dict[Any, int] = {}
        new_groups = []
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            if not isinstance(saved, Mapping) or "params" not in saved:
                raise ValueError(f"{self._name}: parameter group {gi} of the state dict is invalid")
            saved_ids = list(saved["params"])
            if len(saved_ids) != len(group["params"]):
                raise ValueError(
                    f"{self._name}: parameter group {gi} of the state dict has "
                    f"{len(saved_ids)} parameters, this optimizer's has {len(group['params'])}"
                )
            for sid, p in zip(saved_ids, group["params"], strict=True):
                if sid in id_map:
                    raise ValueError(f"{self._name}: parameter id {sid!r} appears twice")
                id_map[sid] = self._positions[id(p)]
            options = {k: v for k, v in saved.items() if k != "params"}
            unknown = set(options) - set(self.defaults) - _EXTRA_GROUP_KEYS
            if unknown:
                raise ValueError(
                    f"{self._name}: unknown option(s) {sorted(unknown)} in parameter group {gi} "
                    "of the state dict"
                )
            new_group = {**self.defaults, **options}
            if isinstance(new_group.get("betas"), list):
                new_group["betas"] = tuple(new_group["betas"])
            self._check_group(new_group)
            new_group["params"] = group["params"]
            new_groups.append(new_group)

        saved_state = state_dict["state"]
        if not isinstance(saved_state, Mapping):
            raise ValueError(f"{self._name}: 'state' must be a dict")
        new_state: dict[int, dict[str, Any]] = {}
        group_of = {self._positions[id(p)]: g for g in new_groups for p in g["params"]}
        for sid, entry in saved_state.items():
            key = sid
            if key not in id_map and isinstance(sid, str) and sid.lstrip("-").isdigit():
                key = int(sid)
            if key not in id_map:
                raise ValueError(
                    f"{self._name}: the state dict has state for parameter {sid!r}, which is not "
                    "in its parameter groups"
                )
            position = id_map[key]
            param = self._params[position].data
            new_state[position] = self._check_state(
                entry, param, group_of[position], f"parameter {position}"
            )
        self.param_groups = new_groups
        self.state = new_state

    def _check_state(
        self, entry: Any, param: np.ndarray, group: Mapping[str, Any], what: str
    ) -> dict[str, Any]:
        if not isinstance(entry, Mapping):
            raise ValueError(f"{self._name}: state of {what} must be a dict")
        known = set(self._state_arrays) | set(self._state_counters)
        unknown = set(entry) - known
        if unknown:
            raise ValueError(
                f"{self._name}: unexpected state {sorted(map(str, unknown))} for {what} "
                f"(expected {sorted(known)})"
            )
        out: dict[str, Any] = {}
        if entry:
            missing = set(self._init_state(param, group)) - set(entry)
            if missing:
                raise ValueError(f"{self._name}: state of {what} lacks {sorted(missing)}")
        for k, v in entry.items():
            if k in self._state_counters:
                if isinstance(v, np.ndarray) and v.ndim == 0:
                    v = v.item()
                if isinstance(v, float) and v.is_integer():
                    v = int(v)
                if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
                    raise ValueError(f"{self._name}: state {k!r} of {what} must be a count >= 0")
                out[k] = int(v)
            elif v is None:
                continue  # e.g. a momentum buffer not created yet
            else:
                arr = np.asarray(getattr(v, "data", v) if not isinstance(v, np.ndarray) else v)
                if arr.shape != param.shape:
                    raise ValueError(
                        f"{self._name}: state {k!r} of {what} has shape {arr.shape}, but the "
                        f"parameter has shape {param.shape}"
                    )
                if arr.dtype.kind not in "fiu":
                    raise ValueError(f"{self._name}: state {k!r} of {what} has dtype {arr.dtype}")
                with np.errstate(over="ignore", invalid="ignore"):
                    cast = arr.astype(param.dtype, copy=True)
                if arr.dtype.kind == "f" and (np.isfinite(arr) & ~np.isfinite(cast)).any():
                    raise ValueError(
                        f"{self._name}: state {k!r} of {what} has finite values that overflow "
                        f"the parameter's {param.dtype}"
                    )
                out[k] = cast
        return out

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, g in enumerate(self.param_groups):
            opts = ", ".join(f"{k}={v!r}" for k, v in g.items() if k != "params")
            lines.append(f"  group {i}: {len(g['params'])} params, {opts}")
        return "\n".join(lines) + "\n)"
