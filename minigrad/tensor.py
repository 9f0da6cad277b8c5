"""The Tensor: a numpy array, a flag saying whether gradients flow to it, and where it came from.

Default dtypes, as in PyTorch: Python floats (and lists of them) become float32, Python ints int64,
bools bool. A numpy array keeps its dtype. Only floating-point tensors can require gradients.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Sequence
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


class ElementCount(int):
    """An int (numpy's ``x.size``) that, called, answers PyTorch's ``x.size()`` / ``x.size(dim)``.
    """

    shape: tuple[int, ...]

    def __new__(cls, n: int, shape: tuple[int, ...]) -> ElementCount:
        self = super().__new__(cls, n)
        self.shape = shape
        return self

    def __call__(self, dim: int | None = None) -> Any:
        if dim is None:
            return self.shape
        from .dims import dim as _dim

        return self.shape[_dim(dim, len(self.shape), "size")]


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
    def size(self) -> ElementCount:
        """The number of elements (numpy's ``size``); called, PyTorch's ``size()``: the shape,
        or ``size(dim)``: one dim's length."""
        return ElementCount(self.data.size, self.data.shape)

    @property
    def T(self) -> Tensor:
        """The dims reversed (the matrix transpose for 2-D)."""
        return ops.permute(self, tuple(range(self.data.ndim))[::-1])

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
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: a tensor with {self.data.size} elements (shape "
                             f"{self.data.shape}) cannot be converted to a Python number; only "
                             f"one-element tensors can")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __float__(self) -> float:
        return float(self.item())  # a one-element tensor of any rank, as in PyTorch

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an "
                            f"index, got dtype {self.data.dtype} and shape {self.data.shape}")
        return int(self.data.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor with {self.data.size} elements (shape "
                             f"{self.data.shape}) is ambiguous; use .any() or .all()")
        return bool(self.data.item())

    def __iter__(self) -> Iterator[Tensor]:
        """The slices along dim 0 (each one a getitem on the tape), as in PyTorch."""
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.data.shape[0]):
            yield self[i]

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
        return ops.eq(self, other)

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

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        return ops.clamp(self, min, max)

    def sum(self, dim: Any = None, keepdim: bool | None = None, **kw: Any) -> Tensor:
        return ops.sum(self, dim, keepdim, **kw)

    def mean(self, dim: Any = None, keepdim: bool | None = None, **kw: Any) -> Tensor:
        return ops.mean(self, dim, keepdim, **kw)

    def max(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
        return ops.max(self, dim, keepdim, **kw)

    def min(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
        return ops.min(self, dim, keepdim, **kw)

    def var(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool | None = None,
            **kw: Any) -> Tensor:
        return ops.var(self, dim, unbiased, keepdim, **kw)

    def logsumexp(self, dim: Any = None, keepdim: bool | None = None, **kw: Any) -> Tensor:
        return ops.logsumexp(self, dim, keepdim, **kw)

    def softmax(self, dim: Any = -1, **kw: Any) -> Tensor:
        return ops.softmax(self, dim, **kw)

    def log_softmax(self, dim: Any = -1, **kw: Any) -> Tensor:
        return ops.log_softmax(self, dim, **kw)

    def argmax(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return ops.argmax(self, dim, keepdim, **kw)

    def reshape(self, *sizes: Any, shape: Any = None) -> Tensor:
        return ops.reshape(self, *sizes, shape=shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return ops.flatten(self, start_dim, end_dim)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap two dims (PyTorch's meaning); :meth:`permute` reorders them all."""
        return ops.transpose(self, dim0, dim1)

    def permute(self, *order: Any, dims: Any = None) -> Tensor:
        return ops.permute(self, *order, dims=dims)

    def swapaxes(self, axis0: int, axis1: int) -> Tensor:
        return ops.transpose(self, axis0, axis1)

    def expand(self, *sizes: Any) -> Tensor:
        return ops.expand(self, *sizes)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return ops.broadcast_to(self, shape)

    def astype(self, dtype: Any) -> Tensor:
        return ops.astype(self, dtype)

    # ---- PyTorch's Tensor methods (thin wrappers over minigrad.ops) ----------------------
    @property
    def device(self) -> str:
        """Always ``"cpu"``: minigrad has no other device."""
        return "cpu"

    def numel(self) -> builtins.int:
        return self.data.size

    def dim(self) -> builtins.int:
        return self.data.ndim

    def ndimension(self) -> builtins.int:
        return self.data.ndim

    def float(self) -> Tensor:
        return ops.astype(self, np.float32)

    def double(self) -> Tensor:
        return ops.astype(self, np.float64)

    def half(self) -> Tensor:
        return ops.astype(self, np.float16)

    def long(self) -> Tensor:
        return ops.astype(self, np.int64)

    def int(self) -> Tensor:
        return ops.astype(self, np.int32)

    def bool(self) -> Tensor:
        return ops.astype(self, np.bool_)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to(other)`` (its dtype) or ``to("cpu")`` (the only device)."""
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        kwargs.pop("copy", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to: unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda", "mps", "xpu", "meta"):
                device = a
            else:
                dtype = a
        if device is not None and str(device).split(":")[0] != "cpu":
            raise ValueError(f"to: minigrad runs on the CPU only, got device {device!r}")
        return self if dtype is None else ops.astype(self, dtype)

    def type_as(self, other: Tensor) -> Tensor:
        return ops.astype(self, other.dtype)

    def cpu(self) -> Tensor:
        return self

    def clone(self) -> Tensor:
        return ops.clone(self)

    def contiguous(self) -> Tensor:
        return self

    def view(self, *sizes: Any, size: Any = None) -> Tensor:
        return ops.reshape(self, *sizes, shape=size)

    def view_as(self, other: Tensor) -> Tensor:
        return ops.reshape(self, other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return ops.reshape(self, other.shape)

    def unflatten(self, dim: builtins.int, sizes: Sequence[builtins.int]) -> Tensor:
        return ops.unflatten(self, dim, sizes)

    def squeeze(self, dim: Any = None) -> Tensor:
        return ops.squeeze(self, dim)

    def unsqueeze(self, dim: builtins.int) -> Tensor:
        return ops.unsqueeze(self, dim)

    def t(self) -> Tensor:
        return ops.t(self)

    def swapdims(self, dim0: builtins.int, dim1: builtins.int) -> Tensor:
        return ops.transpose(self, dim0, dim1)

    def movedim(self, source: Any, destination: Any) -> Tensor:
        return ops.movedim(self, source, destination)

    def expand_as(self, other: Tensor) -> Tensor:
        return ops.expand_as(self, other)

    def repeat(self, *repeats: Any) -> Tensor:
        return ops.repeat(self, *repeats)

    def tile(self, *reps: Any, dims: Any = None) -> Tensor:
        reps = ops._positional_or_keyword(reps, dims, "tile", "dims")
        return ops.tile(self, reps[0] if len(reps) == 1 and not isinstance(reps[0], int)
                        else reps)

    def flip(self, *order: Any, dims: Any = None) -> Tensor:
        order = ops._positional_or_keyword(order, dims, "flip", "dims")
        return ops.flip(self, order[0] if len(order) == 1 else order)

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        return ops.roll(self, shifts, dims)

    def split(self, split_size: Any, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return ops.split(self, split_size, dim)

    def chunk(self, chunks: builtins.int, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return ops.chunk(self, chunks, dim)

    def narrow(self, dim: builtins.int, start: builtins.int, length: builtins.int) -> Tensor:
        return ops.narrow(self, dim, start, length)

    def gather(self, dim: builtins.int, index: Any) -> Tensor:
        return ops.gather(self, dim, index)

    def scatter(self, dim: builtins.int, index: Any, src: Any = None, **kw: Any) -> Tensor:
        return ops.scatter(self, dim, index, src, **kw)

    def scatter_add(self, dim: builtins.int, index: Any, src: Any) -> Tensor:
        return ops.scatter_add(self, dim, index, src)

    def index_select(self, dim: builtins.int, index: Any) -> Tensor:
        return ops.index_select(self, dim, index)

    def index_add(self, dim: builtins.int, index: Any, source: Any, **kw: Any) -> Tensor:
        return ops.index_add(self, dim, index, source, **kw)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        return ops.masked_fill(self, mask, value)

    def take_along_dim(self, indices: Any, dim: Any = None) -> Tensor:
        return ops.take_along_dim(self, indices, dim)

    def nonzero(self, *, as_tuple: builtins.bool = False) -> Any:
        return ops.nonzero(self, as_tuple=as_tuple)

    def matmul(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def mm(self, mat2: Any) -> Tensor:
        return ops.mm(self, mat2)

    def bmm(self, mat2: Any) -> Tensor:
        return ops.bmm(self, mat2)

    def dot(self, other: Any) -> Tensor:
        return ops.dot(self, other)

    def outer(self, vec2: Any) -> Tensor:
        return ops.outer(self, vec2)

    def add(self, other: Any) -> Tensor:
        return ops.add(self, other)

    def sub(self, other: Any) -> Tensor:
        return ops.sub(self, other)

    def mul(self, other: Any) -> Tensor:
        return ops.mul(self, other)

    def div(self, other: Any) -> Tensor:
        return ops.div(self, other)

    def neg(self) -> Tensor:
        return ops.neg(self)

    def pow(self, exponent: Any) -> Tensor:
        return ops.pow(self, exponent)

    def log1p(self) -> Tensor:
        return ops.log1p(self)

    def expm1(self) -> Tensor:
        return ops.expm1(self)

    def log2(self) -> Tensor:
        return ops.log2(self)

    def rsqrt(self) -> Tensor:
        return ops.rsqrt(self)

    def square(self) -> Tensor:
        return ops.square(self)

    def reciprocal(self) -> Tensor:
        return ops.reciprocal(self)

    def sin(self) -> Tensor:
        return ops.sin(self)

    def cos(self) -> Tensor:
        return ops.cos(self)

    def tan(self) -> Tensor:
        return ops.tan(self)

    def erf(self) -> Tensor:
        return ops.erf(self)

    def sign(self) -> Tensor:
        return ops.sign(self)

    def floor(self) -> Tensor:
        return ops.floor(self)

    def ceil(self) -> Tensor:
        return ops.ceil(self)

    def round(self, decimals: builtins.int = 0) -> Tensor:
        return ops.round(self, decimals)

    def trunc(self) -> Tensor:
        return ops.trunc(self)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        return ops.clamp(self, min, max)

    def maximum(self, other: Any) -> Tensor:
        return ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return ops.minimum(self, other)

    def lerp(self, end: Any, weight: Any) -> Tensor:
        return ops.lerp(self, end, weight)

    def where(self, condition: Any, other: Any) -> Tensor:
        return ops.where(condition, self, other)

    def prod(self, dim: Any = None, keepdim: builtins.bool = False, **kw: Any) -> Tensor:
        return ops.prod(self, dim, keepdim, **kw)

    def std(self, dim: Any = None, unbiased: builtins.bool | None = None,
            keepdim: builtins.bool | None = None, **kw: Any) -> Tensor:
        return ops.std(self, dim, unbiased, keepdim, **kw)

    def amax(self, dim: Any = (), keepdim: builtins.bool | None = None, **kw: Any) -> Tensor:
        return ops.amax(self, dim, keepdim, **kw)

    def amin(self, dim: Any = (), keepdim: builtins.bool | None = None, **kw: Any) -> Tensor:
        return ops.amin(self, dim, keepdim, **kw)

    def argmin(self, dim: Any = None, keepdim: builtins.bool = False, **kw: Any) -> Tensor:
        return ops.argmin(self, dim, keepdim, **kw)

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: builtins.bool = False,
             **kw: Any) -> Tensor:
        return ops.norm(self, p, dim, keepdim, **kw)

    def cumsum(self, dim: builtins.int, **kw: Any) -> Tensor:
        return ops.cumsum(self, dim, **kw)

    def cumprod(self, dim: builtins.int, **kw: Any) -> Tensor:
        return ops.cumprod(self, dim, **kw)

    def all(self, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        return ops.all(self, dim, keepdim)

    def any(self, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        return ops.any(self, dim, keepdim)

    def eq(self, other: Any) -> Tensor:
        return ops.eq(self, other)

    def ne(self, other: Any) -> Tensor:
        return ops.ne(self, other)

    def lt(self, other: Any) -> Tensor:
        return ops.lt(self, other)

    def le(self, other: Any) -> Tensor:
        return ops.le(self, other)

    def gt(self, other: Any) -> Tensor:
        return ops.gt(self, other)

    def ge(self, other: Any) -> Tensor:
        return ops.ge(self, other)

    def equal(self, other: Any) -> builtins.bool:
        return ops.equal(self, other)

    def isfinite(self) -> Tensor:
        return ops.isfinite(self)

    def isnan(self) -> Tensor:
        return ops.isnan(self)

    def logical_not(self) -> Tensor:
        return ops.logical_not(self)


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Make a leaf tensor holding a copy of ``data``.

    Python floats become float32 and ints int64 unless ``dtype`` says otherwise; a numpy array
    keeps its dtype. ``requires_grad=True`` needs a floating-point dtype.
    """
    arr = _as_array(data, dtype)
    if requires_grad:
        _check_float(arr.dtype, "tensor")
    return Tensor(arr, requires_grad)


#: minigrad.primitive.apply, which the operators call directly; that module imports this one,
#: so it puts apply here itself when it is imported (by ``ops`` below).
_apply: Callable[..., Any] = None  # type: ignore[assignment]

# Imported last: ops and primitives need Tensor, and Tensor's methods need them at call time.
from . import inplace as _inplace  # noqa: E402
from . import ops  # noqa: E402
from . import primitives as P  # noqa: E402
from . import versions as _versions  # noqa: E402

_NO_PARAMS: dict[str, Any] = {}
