"""Layers: Linear, Embedding, Dropout, LayerNorm, Flatten, activations, and Sequential.

Constructors take ``dtype`` (float32 by default; ``dtype=np.float64`` for a float64 model) and,
where they draw random initial values, ``rng``: a numpy Generator or an int seed, else the
module-level generator that :func:`minigrad.nn.manual_seed` reseeds. Initial values follow
PyTorch's defaults.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any, overload

import numpy as np

from .. import ops
from ..primitive import lift
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = [
    "Linear", "Embedding", "Dropout", "LayerNorm", "Flatten", "Identity", "ReLU", "Tanh",
    "Sigmoid", "Sequential",
]

RNG = np.random.Generator | int | None


def _float_dtype(dtype: Any, who: str) -> np.dtype:
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"{who}: dtype must be floating point, got {dt}")
    return dt


def _same_float_dtype(x: Any, weight: Tensor, who: str) -> Tensor:
    """``x`` as a Tensor; an error if it is floating point with a dtype other than the weight's.

    NOTE: promotion would quietly compute a float32 layer in float64 on a float64 input (and
    hand back float64 gradients for float32 weights); every layer with weights refuses instead,
    with the same message as the recurrent layers.
    """
    x = lift(x)
    if x.dtype.kind == "f" and x.dtype != weight.dtype:
        want = weight.dtype
        raise TypeError(f"{who}: input dtype {x.dtype} differs from the layer's {want}; convert "
                        f"with x.{'float' if want == np.float32 else 'double'}() or build the "
                        f"layer with dtype={x.dtype}")
    return x


def _positive(value: Any, name: str, who: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{who}: {name} must be a positive integer, got {value!r}")
    return int(value)


class Linear(Module):
    """``y = x W^T + b``: ``(..., in_features) -> (..., out_features)``.

    ``weight`` has shape ``(out_features, in_features)`` and ``bias`` ``(out_features,)``, both
    drawn from U(-k, k) with k = 1 / sqrt(in_features), as PyTorch initialises them. A floating
    input must have the layer's dtype (TypeError otherwise).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 dtype: Any = np.float32, rng: RNG = None) -> None:
        super().__init__()
        self.in_features = _positive(in_features, "in_features", "Linear")
        self.out_features = _positive(out_features, "out_features", "Linear")
        dt = _float_dtype(dtype, "Linear")
        gen = init.get_rng(rng)
        k = 1.0 / math.sqrt(self.in_features)
        self.weight = Parameter(gen.uniform(-k, k, (self.out_features, self.in_features))
                                .astype(dt))
        self.bias: Parameter | None = None
        if bias:
            self.bias = Parameter(gen.uniform(-k, k, self.out_features).astype(dt))

    def forward(self, x: Any) -> Tensor:
        return F.linear(_same_float_dtype(x, self.weight, "Linear"), self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}{_dtype_note(self.weight)}")


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by integer
    index: indices of any shape ``S`` give a result of shape ``S + (embedding_dim,)``.

    ``weight`` is drawn from N(0, 1). The row ``padding_idx`` (if given; negative counts from the
    end) starts at zero and receives no gradient.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None, *, dtype: Any = np.float32,
                 rng: RNG = None) -> None:
        super().__init__()
        self.num_embeddings = _positive(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = _positive(embedding_dim, "embedding_dim", "Embedding")
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for "
                                 f"{self.num_embeddings} embeddings")
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        table = init.get_rng(rng).standard_normal((self.num_embeddings, self.embedding_dim))
        if padding_idx is not None:
            table[padding_idx] = 0.0
        self.weight = Parameter(table.astype(_float_dtype(dtype, "Embedding")))

    def forward(self, indices: Any) -> Tensor:
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}{_dtype_note(self.weight)}"


class Dropout(Module):
    """Inverted dropout with probability ``p`` while training; the identity in eval mode.

    Masks come from ``rng`` (a Generator, or an int seed for a generator of its own made once
    here), else from the module-level generator at each call (see
    :func:`minigrad.nn.manual_seed`).
    """

    def __init__(self, p: float = 0.5, rng: RNG = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability p must be in [0, 1], got {p}")
        self.p = float(p)
        self.rng = None if rng is None else init.get_rng(rng)

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` axes, then scale and shift:

        y = (x - mean) / sqrt(var + eps) * weight + bias

    with the mean and biased variance over those axes. ``weight`` starts at 1 and ``bias`` at 0;
    neither exists without ``elementwise_affine`` (and no bias with ``bias=False``).
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, *,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        shape = ((normalized_shape,) if isinstance(normalized_shape, int | np.integer)
                 else tuple(normalized_shape))
        self.normalized_shape = tuple(_positive(n, "normalized_shape", "LayerNorm")
                                      for n in shape)
        if not self.normalized_shape:
            raise ValueError("LayerNorm: normalized_shape must not be empty")
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be positive, got {eps}")
        self.eps = float(eps)
        self.elementwise_affine = elementwise_affine
        dt = _float_dtype(dtype, "LayerNorm")
        self.weight: Parameter | None = None
        self.bias: Parameter | None = None
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dt))

    def forward(self, x: Any) -> Tensor:
        if self.weight is not None:
            x = _same_float_dtype(x, self.weight, "LayerNorm")
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` (inclusive; negative counts from the end) into one."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Any) -> Tensor:
        x = lift(x)
        nd = max(x.ndim, 1)
        lo, hi = self.start_dim % nd, self.end_dim % nd
        if not (-nd <= self.start_dim < nd and -nd <= self.end_dim < nd) or lo > hi:
            raise ValueError(f"Flatten: start_dim={self.start_dim} and end_dim={self.end_dim} "
                             f"do not select axes of an input with shape {x.shape}")
        shape = x.shape[:lo] + (math.prod(x.shape[lo:hi + 1]),) + x.shape[hi + 1:]
        return ops.reshape(x, shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input."""

    def forward(self, x: Any) -> Any:
        return x


class ReLU(Module):
    """``max(x, 0)`` elementwise."""

    def forward(self, x: Any) -> Tensor:
        return ops.relu(x)


class Tanh(Module):
    """``tanh(x)`` elementwise."""

    def forward(self, x: Any) -> Tensor:
        return ops.tanh(x)


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise."""

    def forward(self, x: Any) -> Tensor:
        return ops.sigmoid(x)


class Sequential(Module):
    """Modules applied in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Children are named ``"0"``, ``"1"``, ... (or by the keys of an OrderedDict given as the only
    argument), so parameters are named ``"0.weight"`` as in PyTorch. Indexing with an int gives a
    child and with a slice a new Sequential sharing the children; ``len`` and iteration work.
    """

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self._add(str(name), m)
        else:
            for i, module in enumerate(modules):
                self._add(str(i), module)

    def _add(self, name: str, module: Any) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: element {name} is a {type(module).__name__}, "
                            "not a Module")
        setattr(self, name, module)

    def append(self, module: Module) -> Sequential:
        self._add(str(len(self)), module)
        return self

    def _items(self) -> list[tuple[str, Module]]:
        return [(name, m) for name, m in self._modules.items() if m is not None]

    def forward(self, x: Any) -> Any:
        for _, m in self._items():
            x = m(x)
        return x

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Iterator[Module]:
        return iter([m for _, m in self._items()])

    @overload
    def __getitem__(self, index: int) -> Module: ...

    @overload
    def __getitem__(self, index: slice) -> Sequential: ...

    def __getitem__(self, index: int | slice) -> Module | Sequential:
        items = self._items()
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        if not -len(items) <= index < len(items):
            raise IndexError(f"Sequential: index {index} is out of range for "
                             f"{len(items)} modules")
        return items[index][1]


def _dtype_note(p: Tensor) -> str:
    return "" if p.dtype == np.float32 else f", dtype={p.dtype}"
