"""The Tensor: a numpy array, a flag saying whether gradients flow to it, and where it came from.

Default dtypes, as in PyTorch: Python floats (and lists of them) become float32, Python ints int64,
bools bool. A numpy array keeps its dtype. Only floating-point tensors can require gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .tape import Entry

DEFAULT_FLOAT = np.dtype(np.float32)

Axis = int | tuple[int, ...] | None


def _describe(data: Any) -> str:
    if isinstance(data, np.ndarray):
        return "a numpy array"
    if isinstance(data, list | tuple) and data:
        kinds = sorted({type(v).__name__ for v in data})
        return f"a {type(data).__name__} of {', '.join(kinds)}"
    return f"a {type(data).__name__}"


def _check_numeric(arr: np.ndarray, data: Any, who: str) -> None:
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"{who}: cannot make a tensor from {_describe(data)} (numpy dtype "
                        f"{arr.dtype}): only booleans and numbers can be tensor elements")


def _as_array(data: Any, dtype: Any = None, who: str = "tensor") -> np.ndarray:
    """A fresh array for ``data`` with minigrad's default dtypes."""
    if isinstance(data, Tensor):
        data = data.data
    if not isinstance(data, np.ndarray | np.generic):
        try:
            arr = np.array(data)
        except ValueError as e:
            if "inhomogeneous" not in str(e):
                raise
            raise ValueError(f"{who}: cannot make a tensor from ragged nested sequences (rows "
                             f"of different lengths); numpy says: {e}") from None
        _check_numeric(arr, data, who)
        if dtype is not None:  # numpy's own conversion: out-of-range ints raise
            return np.array(data, dtype=dtype)
        if arr.dtype.kind == "f":
            arr = arr.astype(DEFAULT_FLOAT)
        return arr
    _check_numeric(np.asarray(data), data, who)
    return np.array(data, dtype=dtype)


def _check_float(dtype: np.dtype, who: str) -> None:
    if dtype.kind != "f":
        raise TypeError(f"{who}: only floating-point tensors can require gradients, got {dtype}")


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    ``data`` is the numpy array. ``grad`` accumulates the gradient on leaves (tensors made by the
    user, not by an op) that require grad. ``_entry``/``_slot`` point at the tape entry and output
    position that produced the tensor; leaves have no entry.
    """

    __slots__ = ("data", "grad", "_rg", "_entry", "_slot", "_hooks", "__weakref__")
    __array_ufunc__ = None  # so that ``ndarray * Tensor`` calls Tensor.__rmul__

    def __init__(self, data: Any, requires_grad: bool = False) -> None:
        if isinstance(data, np.ndarray):
            arr = data
            _check_numeric(arr, data, "Tensor")
        else:
            arr = _as_array(data, who="Tensor")
        if requires_grad:
            _check_float(arr.dtype, "Tensor")
        self.data: np.ndarray = arr
        self.grad: Tensor | None = None
        self._rg = requires_grad
        self._entry: Entry | None = None
        self._slot = 0
        self._hooks: list[Callable] | None = None

    @classmethod
    def _make(cls, data: np.ndarray, entry: Entry | None, slot: int = 0) -> Tensor:
        """An op's output (fast path: no checks)."""
        t = object.__new__(cls)
        t.data = data
        t.grad = None
        t._rg = entry is not None
        t._entry = entry
        t._slot = slot
        t._hooks = None
        return t

    # ---- properties --------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self._entry is not None:
            raise RuntimeError("requires_grad can only be changed on leaf tensors; "
                               "use .detach() to make a new leaf")
        if value:
            _check_float(self.data.dtype, "requires_grad")
        self._rg = bool(value)

    def requires_grad_(self, value: bool = True) -> Tensor:
        self.requires_grad = value
        return self

    @property
    def is_leaf(self) -> bool:
        return self._entry is None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def T(self) -> Tensor:
        return ops.transpose(self)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != DEFAULT_FLOAT and self.data.dtype.kind == "f":
            extra += f", dtype={self.data.dtype}"
        if self._entry is not None:
            extra += f", op={self._entry.op.name}"
        elif self._rg:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- conversion --------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> Any:
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def clone(self) -> Tensor:
        """A copy in new memory, on the graph (the gradient passes through unchanged)."""
        return _apply(P.mul, (self, True if self.data.dtype.kind == "b" else 1), _NO_PARAMS)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor(self.data)

    # ---- differentiation ---------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``grad`` is the cotangent (required unless the tensor has one element). The graph's saved
        values are freed unless ``retain_graph`` (which defaults to ``create_graph``).
        """
        from .autograd import backward

        backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def register_hook(self, fn: Callable[[Tensor], Tensor | None]) -> Any:
        """Call ``fn(grad)`` when this tensor's gradient is computed; a return value replaces it."""
        from .hooks import register_hook

        return register_hook(self, fn)

    def retain_grad(self) -> None:
        """Keep this interior tensor's gradient in ``.grad`` after backward."""
        from .hooks import retain_grad

        retain_grad(self)

    # ---- operators: straight to the primitive (this is every op's hot path) --------------
    def __add__(self, other: Any) -> Tensor:
        return _apply(P.add, (self, other), _NO_PARAMS)

    def __radd__(self, other: Any) -> Tensor:
        return _apply(P.add, (other, self), _NO_PARAMS)

    def __sub__(self, other: Any) -> Tensor:
        return _apply(P.sub, (self, other), _NO_PARAMS)

    def __rsub__(self, other: Any) -> Tensor:
        return _apply(P.sub, (other, self), _NO_PARAMS)

    def __mul__(self, other: Any) -> Tensor:
        return _apply(P.mul, (self, other), _NO_PARAMS)

    def __rmul__(self, other: Any) -> Tensor:
        return _apply(P.mul, (other, self), _NO_PARAMS)

    def __truediv__(self, other: Any) -> Tensor:
        return _apply(P.truediv, (self, other), _NO_PARAMS)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _apply(P.truediv, (other, self), _NO_PARAMS)

    def __pow__(self, other: Any) -> Tensor:
        return ops.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return ops.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _apply(P.matmul, (self, other), _NO_PARAMS)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _apply(P.matmul, (other, self), _NO_PARAMS)

    def __neg__(self) -> Tensor:
        return _apply(P.neg, (self,), _NO_PARAMS)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)

    # ---- in-place: write into ``self.data`` itself (rules in minigrad.inplace) ------------
    @property
    def _version(self) -> int:
        """How many times this tensor's memory was written through minigrad (PyTorch's name).

        Shared by every tensor over the same memory (``detach()``, views)."""
        return _versions.version(self.data)

    def add_(self, other: Any, alpha: Any = 1) -> Tensor:
        """``self += alpha * other`` in place; returns self."""
        return _inplace.add_(self, other, alpha)

    def sub_(self, other: Any, alpha: Any = 1) -> Tensor:
        """``self -= alpha * other`` in place; returns self."""
        return _inplace.sub_(self, other, alpha)

    def mul_(self, other: Any) -> Tensor:
        return _inplace.mul_(self, other)

    def div_(self, other: Any) -> Tensor:
        return _inplace.div_(self, other)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        return _inplace.clamp_(self, min, max)

    clip_ = clamp_

    def fill_(self, value: Any) -> Tensor:
        return _inplace.fill_(self, value)

    def zero_(self) -> Tensor:
        return _inplace.zero_(self)

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src`` (broadcast, converted to this tensor's dtype) into this tensor."""
        return _inplace.copy_(self, src)

    def __setitem__(self, index: Any, value: Any) -> None:
        _inplace.setitem(self, index, value)

    def __iadd__(self, other: Any) -> Tensor:
        return _inplace.add_(self, other)

    def __isub__(self, other: Any) -> Tensor:
        return _inplace.sub_(self, other)

    def __imul__(self, other: Any) -> Tensor:
        return _inplace.mul_(self, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return _inplace.div_(self, other)

    # comparisons and logic give tensors that never require grad
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return ops.equal(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return ops.not_equal(self, other)

    def __lt__(self, other: Any) -> Tensor:
        return ops.less(self, other)

    def __le__(self, other: Any) -> Tensor:
        return ops.less_equal(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return ops.greater(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return ops.greater_equal(self, other)

    def __and__(self, other: Any) -> Tensor:
        return ops.logical_and(self, other)

    def __or__(self, other: Any) -> Tensor:
        return ops.logical_or(self, other)

    def __invert__(self) -> Tensor:
        return ops.logical_not(self)

    __hash__ = object.__hash__

    # ---- methods (thin wrappers over minigrad.ops) -------------------------------------
    def exp(self) -> Tensor:
        return _apply(P.exp, (self,), _NO_PARAMS)

    def log(self) -> Tensor:
        return _apply(P.log, (self,), _NO_PARAMS)

    def sqrt(self) -> Tensor:
        return _apply(P.sqrt, (self,), _NO_PARAMS)

    def tanh(self) -> Tensor:
        return _apply(P.tanh, (self,), _NO_PARAMS)

    def sigmoid(self) -> Tensor:
        return _apply(P.sigmoid, (self,), _NO_PARAMS)

    def relu(self) -> Tensor:
        return _apply(P.relu, (self,), _NO_PARAMS)

    def abs(self) -> Tensor:
        return _apply(P.absolute, (self,), _NO_PARAMS)

    def __abs__(self) -> Tensor:
        return ops.abs(self)

    def clip(self, lo: float | None = None, hi: float | None = None) -> Tensor:
        return ops.clip(self, lo, hi)

    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.sum(self, axis, keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.mean(self, axis, keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.max(self, axis, keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.min(self, axis, keepdims)

    def var(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        return ops.var(self, axis, keepdims, ddof)

    def logsumexp(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.logsumexp(self, axis, keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        return ops.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return ops.log_softmax(self, axis)

    def argmax(self, axis: int | None = None) -> Tensor:
        return ops.argmax(self, axis)

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return ops.reshape(self, shape)

    def flatten(self) -> Tensor:
        return ops.reshape(self, (-1,))

    def transpose(self, *axes: int) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], tuple | list):
            axes = tuple(axes[0])
        return ops.transpose(self, axes or None)

    def permute(self, *axes: int) -> Tensor:
        return self.transpose(*axes)

    def swapaxes(self, a: int, b: int) -> Tensor:
        return ops.swapaxes(self, a, b)

    def expand(self, *shape: int) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return ops.broadcast_to(self, shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return ops.broadcast_to(self, tuple(shape))

    def astype(self, dtype: Any) -> Tensor:
        return ops.astype(self, dtype)


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Make a leaf tensor holding a copy of ``data``.

    Python floats become float32 and ints int64 unless ``dtype`` says otherwise; a numpy array
    keeps its dtype. ``requires_grad=True`` needs a floating-point dtype.
    """
    arr = _as_array(data, dtype)
    if requires_grad:
        _check_float(arr.dtype, "tensor")
    return Tensor(arr, requires_grad)


# Imported last: ops and primitives need Tensor, and Tensor's methods need them at call time.
from . import inplace as _inplace  # noqa: E402
from . import ops  # noqa: E402
from . import primitives as P  # noqa: E402
from . import versions as _versions  # noqa: E402
from .primitive import apply as _apply  # noqa: E402

_NO_PARAMS: dict[str, Any] = {}
