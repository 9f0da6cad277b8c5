"""The :class:`Optimizer` base class: parameter groups, gradient handling, state dicts."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from minigrad.optim._functional import check_writable, update_, write_

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
    #: The state entries the update reads from an existing state (the others it creates).
    _state_needed: tuple[str, ...] = ()
    #: How many work arrays of a parameter's shape :meth:`_scratch` hands the update.
    _work_arrays = 2

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
        # Work arrays for the updates (see _scratch): dtype -> (pool, {shape: views of it}).
        self._work: dict[np.dtype, tuple[np.ndarray, dict[tuple[int, ...], tuple]]] = {}
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

        All or nothing: everything that can fail is checked before the first write (every
        group's hyperparameters, every gradient's shape and dtype, every parameter's array
        being writable, every state array's shape and dtype); on any error no parameter, state
        or step count has changed. Then the updates run in place, on the parameters' and the
        state's own arrays. A floating-point overflow or invalid value met during the updates
        (an infinite gradient, say) does not stop them half-way: it is reported once, after
        every parameter was updated, as numpy's error settings ask (a RuntimeWarning by
        default; FloatingPointError under ``np.seterr(all="raise")``, the step applied).
        """
        loss = closure() if closure is not None else None
        work = self._prepare_step()
        if not work:
            return loss
        # NOTE: numpy's floating-point errors are collected, not raised or warned mid-step: a
        # warning turned into an error (pytest -W error, np.seterr) would otherwise stop the
        # step with some parameters updated and others not.
        settings = np.geterr()
        errors: dict[str, list[int]] = {}
        current = [0]

        def collect(kind: str, flag: int) -> None:
            positions = errors.setdefault(kind, [])
            if not positions or positions[-1] != current[0]:
                positions.append(current[0])

        def mode(kind: str) -> Literal["ignore", "call"]:
            return "ignore" if settings[kind] == "ignore" else "call"  # type: ignore[literal-required]

        with np.errstate(
            divide=mode("divide"), over=mode("over"), under=mode("under"),
            invalid=mode("invalid"), call=collect,
        ):
            for p, position, grad, group, state in work:
                current[0] = position
                self.state[position] = state
                update_(p, f"{self._name}.step: parameter {position}", self._update, grad,
                        state, group)
        if errors:
            self._report_float_errors(errors, settings)
        return loss

    def _prepare_step(self) -> list[tuple[Any, int, np.ndarray, dict[str, Any], dict[str, Any]]]:
        """Check everything a step needs and return ``(param, position, grad, group, state)``
        for each parameter with a gradient; a new state is made here but not stored yet."""
        work = []
        sizes: dict[np.dtype, int] = {}
        for group in self.param_groups:
            self._check_group(group)
            for p in group["params"]:
                position = self._positions[id(p)]
                data = self._check_parameter(p, f"parameter {position}")
                grad = self._grad(p, position)
                if grad is None:
                    continue
                if not data.flags.writeable or 0 in data.strides:
                    check_writable(p, f"{self._name}.step: parameter {position}")
                state = self.state.get(position)
                if state:
                    self._check_step_state(state, data, position)
                else:
                    state = self._init_state(data, group)
                if data.size > sizes.get(data.dtype, 0):
                    sizes[data.dtype] = data.size
                work.append((p, position, grad, group, state))
        for dtype, size in sizes.items():
            self._reserve_work(dtype, size)
        return work

    def _check_step_state(self, state: Mapping[str, Any], param: np.ndarray, position: int) -> None:
        """The state the update is about to modify in place must fit the parameter."""
        for k in self._state_needed:
            if k not in state:
                missing = [k for k in self._state_needed if k not in state]
                raise ValueError(f"{self._name}: state of parameter {position} lacks {missing}")
        shape = param.shape
        for k, v in state.items():
            if isinstance(v, np.ndarray):
                if v.shape == shape and v.dtype.kind == "f" and v.flags.writeable:
                    continue
                if k not in self._state_arrays:
                    continue
                if not v.flags.writeable:
                    raise ValueError(
                        f"{self._name}: state {k!r} of parameter {position} is read-only"
                    )
                raise ValueError(
                    f"{self._name}: state {k!r} of parameter {position} must be a float array "
                    f"of the parameter's shape {shape}, got {v.dtype} of shape {v.shape}"
                )
            if k in self._state_counters:
                if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
                    raise ValueError(
                        f"{self._name}: state {k!r} of parameter {position} must be a count "
                        f">= 0, got {v!r}"
                    )
            elif k in self._state_arrays and v is not None:
                raise ValueError(
                    f"{self._name}: state {k!r} of parameter {position} must be a float array "
                    f"of the parameter's shape {shape}, got {type(v).__name__}"
                )

    def _reserve_work(self, dtype: np.dtype, size: int) -> None:
        """Make the work pool of ``dtype`` hold arrays of at least ``size`` elements."""
        pool = self._work.get(dtype)
        if pool is None or pool[0].shape[1] < size:
            self._work[dtype] = (np.empty((self._work_arrays, size), dtype), {})

    def _scratch(self, param: np.ndarray) -> tuple[np.ndarray, ...]:
        """``_work_arrays`` work arrays of ``param``'s shape and dtype for an update's
        intermediates: views of one pool per dtype, shared by every parameter and step, so
        their contents are garbage on entry (and nothing is allocated per step)."""
        self._reserve_work(param.dtype, param.size)
        pool, views = self._work[param.dtype]
        arrays = views.get(param.shape)
        if arrays is None:
            n, shape = param.size, param.shape
            arrays = views[shape] = tuple(
                pool[i, :n].reshape(shape) for i in range(self._work_arrays)
            )
        return arrays

    def _report_float_errors(
        self, errors: Mapping[str, list[int]], settings: Mapping[str, object]
    ) -> None:
        keys = {"overflow": "over", "underflow": "under", "invalid value": "invalid",
                "divide by zero": "divide"}
        raise_ = [k for k in errors if settings.get(keys.get(k, "invalid")) == "raise"]
        text = "; ".join(
            f"{kind} encountered in the update of parameter(s) {positions}"
            for kind, positions in errors.items()
        )
        if raise_:
            raise FloatingPointError(
                f"{self._name}.step: {text} (the step was applied to every parameter)"
            )
        warnings.warn(f"{self._name}.step: {text}", RuntimeWarning, stacklevel=3)

    def _init_state(self, param: np.ndarray, group: Mapping[str, Any]) -> dict[str, Any]:
        """The state of a parameter before its first update."""
        return {}

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: Mapping[str, Any]
    ) -> None:
        """Update ``param`` in place from ``grad``; ``state`` is this parameter's state, whose
        arrays are updated in place too. Intermediates go into :meth:`_scratch` arrays. Called
        only after :meth:`step` checked everything: it must not fail (all or nothing)."""
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
