"""Module and Parameter: named, nested containers of trainable tensors, as in PyTorch."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from ..optim._functional import write_
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that a :class:`Module` registers as trainable (requires grad by default)."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        arr = np.array(data.data if isinstance(data, Tensor) else data)
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float32)
        super().__init__(arr, requires_grad)

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__() + ")"


class _IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` returns, as in PyTorch."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _typename(value: Any) -> str:
    """``'minigrad.Tensor'``, ``'int'``, ``'numpy.ndarray'``: a value's type as PyTorch names it."""
    if isinstance(value, Tensor):
        return "minigrad.Tensor"
    cls = type(value)
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    return f"{module.split('.')[0]}.{cls.__qualname__}"


def _is_dtype_name(text: str) -> bool:
    try:
        np.dtype(text)
    except TypeError:
        return False
    return True


class Module:
    """Base class of layers and models.

    Assigning a :class:`Parameter` or a :class:`Module` to an attribute registers it, in order;
    :meth:`register_buffer` registers a non-trainable tensor (running statistics, masks).
    ``named_parameters()`` then yields dotted names (``"encoder.weight_ih_l0"``) and
    ``state_dict()`` / ``load_state_dict()`` move the values in and out by those names.

    The assignment rules are PyTorch's: over a registered parameter only a Parameter (which
    replaces it) or None may be assigned, over a buffer only a Tensor or None, over a child
    module only a Module or None; anything else raises TypeError and changes nothing.

    Shared modules and tied parameters are listed once by ``modules()``, ``named_modules()``,
    ``parameters()`` and ``named_parameters()``; ``state_dict()`` holds every name, as PyTorch's
    does (``emb.weight`` and ``out.weight`` for a tied embedding and output layer).
    """

    training: bool
    _parameters: dict[str, Parameter | None]
    _buffers: dict[str, Tensor | None]
    _non_persistent: set[str]
    _modules: dict[str, Module | None]

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if params is None:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 "assigning attributes")
        buffers, modules = self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name, keep=params)
            params[name] = value  # an existing name keeps its place, as in PyTorch
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                "(nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            self._forget(name, keep=modules)
            modules[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                "(nn.Module or None expected)")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                "(minigrad.Tensor or None expected)")
            buffers[name] = value
        object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: dict[str, Any] | None = None) -> None:
        """Remove ``name`` from every registry but ``keep`` (where it is registered anew)."""
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent.discard(name)

    def __delattr__(self, name: str) -> None:
        self._forget(name)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (a Parameter, or None for an absent one) under ``name``."""
        self._check_new_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            "(nn.Parameter or None required)")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a tensor that is part of the module's state but not trained.

        Buffers are moved by :meth:`to` and, when ``persistent``, saved by :meth:`state_dict` and
        restored by :meth:`load_state_dict`. ``tensor`` may be None (an absent buffer).
        """
        self._check_new_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            "(minigrad.Tensor or None required)")
        if isinstance(tensor, Parameter):
            raise TypeError(f"register_buffer: '{name}' is a Parameter; use register_parameter "
                            "or plain assignment for trainable tensors")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a child named ``name`` (as ``setattr`` does)."""
        self._check_new_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        self._forget(name, keep=self._modules)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    def _check_new_name(self, name: Any, kind: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"registering a {kind}")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {_typename(name)}")
        if not name or "." in name:
            raise KeyError(f"{kind} name can't be empty or contain \".\", got {name!r}")
        # PyTorch's rule: register_* may replace a name of its own kind only (a buffer
        # registered over a parameter would silently drop the parameter from training)
        own: dict[str, dict[str, Any]] = {"parameter": self._parameters, "buffer": self._buffers,
                                          "module": self._modules}
        if hasattr(self, name) and name not in own[kind]:
            raise KeyError(f"attribute '{name}' already exists")

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- traversal ---------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo: set[int] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module and every descendant, depth first, by dotted name; a module reachable
        by two paths is listed once, under the first (unless ``remove_duplicate=False``)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                           remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        mods = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                if recurse else iter([(prefix, self)]))
        for mod_name, m in mods:
            for name, value in getattr(m, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{mod_name}.{name}" if mod_name else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Every parameter by dotted name; a tied parameter once, under its first name."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def _state_tensors(self, prefix: str = "", active: frozenset[int] = frozenset()
                       ) -> Iterator[tuple[str, Tensor]]:
        """Every name ``state_dict`` holds, with its tensor: this module's parameters, then its
        persistent buffers, then each child's, by every path (tied ones under each name)."""
        if id(self) in active:
            raise ValueError(f"{type(self).__name__}: the module contains itself "
                             f"(at {prefix.rstrip('.') or 'the top'})")
        active = active | {id(self)}
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, p
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                yield prefix + name, b
        for name, m in self._modules.items():
            if m is not None:
                yield from m._state_tensors(f"{prefix}{name}.", active)

    # ---- state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter's and persistent buffer's array, by dotted name.

        Like PyTorch's, it names a tied parameter (or a shared module's) once per path, so a
        model with ``out.weight = emb.weight`` has both ``emb.weight`` and ``out.weight``.
        """
        return {name: t.data.copy() for name, t in self._state_tensors()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> _IncompatibleKeys:
        """Copy values (arrays, Tensors, numbers) into the parameters and buffers of the same
        names; returns ``(missing_keys, unexpected_keys)``.

        Everything is checked before anything is written, and one error names every problem:
        a missing or unexpected key (with ``strict``), a shape mismatch, a value that is not
        numbers (strings, objects, ragged lists), a finite value that overflows the parameter's
        dtype, and two different values for one tied parameter. On any error nothing changes.
        A key may be missing when another name of the same tied tensor is given.
        """
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{who}: expected a dict of arrays, got {_typename(state)}")
        own = dict(self._state_tensors())
        given_ids = {id(own[k]) for k in state if k in own}
        missing = [k for k, t in own.items() if k not in state and id(t) not in given_ids]
        unexpected = [k for k in state if k not in own]
        problems = []
        if strict:
            if missing:
                problems.append(f"missing keys {missing}")
            if unexpected:
                problems.append(f"unexpected keys {unexpected}")
        values: dict[str, tuple[Tensor, np.ndarray]] = {}
        by_tensor: dict[int, tuple[str, np.ndarray]] = {}
        for k, v in state.items():
            if k not in own:
                continue
            target = own[k]
            try:
                arr = np.asarray(v.data if isinstance(v, Tensor) else v)
            except (ValueError, TypeError) as e:
                problems.append(f"{k}: cannot be read as an array ({e})")
                continue
            if arr.dtype.kind not in "biuf":
                problems.append(f"{k}: expected numbers for a {target.dtype} tensor, got dtype "
                                f"{arr.dtype}")
                continue
            if arr.shape != target.shape:
                problems.append(f"{k}: expected shape {target.shape}, got {arr.shape}")
                continue
            with np.errstate(over="ignore", invalid="ignore"):
                cast = arr.astype(target.dtype)
            if target.dtype.kind == "f" and arr.dtype.kind == "f":
                overflow = np.isfinite(arr) & ~np.isfinite(cast)
                if overflow.any():
                    problems.append(f"{k}: {int(overflow.sum())} finite value(s) overflow "
                                    f"{target.dtype} (largest magnitude "
                                    f"{float(np.abs(arr[overflow]).max()):g})")
                    continue
            elif target.dtype.kind in "iu" and arr.dtype.kind == "f":
                problems.append(f"{k}: float values for an integer {target.dtype} buffer")
                continue
            first = by_tensor.get(id(target))
            if first is not None and not np.array_equal(first[1], cast, equal_nan=True):
                problems.append(f"{first[0]} and {k} name the same (tied) tensor but the state "
                                "dict holds different values for them")
                continue
            by_tensor[id(target)] = (k, cast)
            values[k] = (target, cast)
        if problems:
            raise ValueError(f"{who}: " + "; ".join(problems))
        for target, cast in values.values():
            write_(target, cast)
        return _IncompatibleKeys(missing, unexpected)

    # ---- modes and housekeeping --------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` of every parameter (e.g. False to freeze); returns self."""
        if not isinstance(requires_grad, bool | np.bool_):
            raise TypeError(f"{type(self).__name__}.requires_grad_: expected True or False, got "
                            f"{requires_grad!r}")
        for p in self.parameters():
            p.requires_grad_(bool(requires_grad))
        return self

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every child module (recursively), then on self; returns self.

        The usual use is initialisation::

            def init_weights(m):
                if isinstance(m, nn.Linear):
                    nn.init.xavier_uniform_(m.weight)
            model.apply(init_weights)
        """
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor(np.zeros_like(p.grad.data))

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Cast every floating-point parameter and buffer (and any gradient) to a float dtype,
        in place; returns self. ``to(np.float64)``, ``to(dtype=mg.float64)``, ``to("float64")``,
        ``to(tensor)`` (its dtype); a device ``"cpu"`` is accepted and changes nothing.

        The Parameter objects stay the same (an optimizer made before still holds them); each
        gets a new array of the new dtype. Integer and bool buffers keep their dtype.
        """
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}.to: unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, str) and not _is_dtype_name(a):
                device = a
            else:
                dtype = a
        if device is not None and str(device).split(":")[0] != "cpu":
            raise ValueError(f"{type(self).__name__}.to: minigrad runs on the CPU only, got "
                             f"device {device!r}")
        if dtype is None:
            return self
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{type(self).__name__}.to: {dtype!r} is not a dtype") from None
        if dt.kind != "f" or dt.itemsize < 4:
            raise TypeError(f"{type(self).__name__}.to: parameters must be float32 or float64, "
                            f"got {dt}")
        for t in [*self.parameters(), *self.buffers()]:
            if t.dtype.kind == "f" and t.dtype != dt:
                t.data = t.data.astype(dt)
                if t.grad is not None:
                    t.grad = Tensor(t.grad.data.astype(dt))
        return self

    def astype(self, dtype: Any) -> Module:
        """Convert every floating-point parameter and buffer to ``dtype``; same as :meth:`to`."""
        return self.to(dtype)

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        if len(lines) == 1:
            return lines[0] + ")"
        return "\n".join(lines) + "\n)"
