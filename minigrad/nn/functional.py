"""Stateless layers and losses, as in ``torch.nn.functional``.

Losses take ``reduction``: ``"none"`` keeps one value per element (per position for the
classification losses), ``"sum"`` adds them up and ``"mean"`` averages them. For ``cross_entropy``
and ``nll_loss`` the mean is over the targets that are not ``ignore_index`` (weighted by the class
weights when given), as in PyTorch; it is nan when every target is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import ops
from ..ops import log_softmax, relu, sigmoid, softmax, tanh
from ..primitive import lift
from ..tensor import Tensor
from .init import get_rng
from .losses import cross_entropy_primitive, softplus_primitive

__all__ = [
    "linear", "embedding", "dropout", "layer_norm", "softplus", "relu", "tanh", "sigmoid",
    "softmax", "log_softmax", "gelu", "silu", "leaky_relu", "elu", "one_hot", "normalize",
    "cosine_similarity", "pad", "conv1d", "cross_entropy", "nll_loss", "mse_loss", "l1_loss",
    "smooth_l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
]

_REDUCTIONS = ("mean", "sum", "none")


# ---- layers --------------------------------------------------------------------------------
def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """``y = x W^T + b``; ``x`` has shape ``(..., in)``, ``W`` ``(out, in)``, ``b`` ``(out,)``."""
    x, weight = lift(x), lift(weight)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must have shape (out_features, in_features), got "
                         f"{weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not end in in_features = "
                         f"{weight.shape[1]} (weight shape {weight.shape})")
    y = ops.matmul(x, ops.t(weight))
    return y if bias is None else y + bias


def embedding(input: Any, weight: Any, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (shape ``(num, dim)``) at integer indices ``input`` of any shape:
    the result has shape ``input.shape + (dim,)``. Repeated indices add up in the gradient;
    no gradient reaches the row ``padding_idx``.

    As in PyTorch: ``max_norm`` first rescales, in place and without gradient, each looked-up
    row whose ``norm_type``-norm exceeds it to norm ``max_norm`` (a write to ``weight``: its
    version goes up); ``scale_grad_by_freq`` divides each row's gradient by how often the row
    occurs in ``input``. ``sparse=True`` is refused: minigrad has no sparse gradients.
    """
    weight = lift(weight)
    idx = np.asarray(input.data if isinstance(input, Tensor) else input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    if sparse:
        raise ValueError("embedding: sparse=True needs sparse gradients, which minigrad does "
                         "not have; use sparse=False (the default)")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx.max()) if idx.max() >= n else int(idx.min())
        raise IndexError(f"embedding: index {bad} is out of range for {n} embeddings "
                         f"(valid indices are 0..{n - 1})")
    if padding_idx is not None:
        if (isinstance(padding_idx, bool) or not isinstance(padding_idx, int | np.integer)
                or not -n <= padding_idx < n):
            raise ValueError(f"embedding: padding_idx must be an integer in [{-n}, {n - 1}] for "
                             f"{n} embeddings, got {padding_idx!r}")
        padding_idx = int(padding_idx) % n  # -1 is the last row, as in PyTorch
    if max_norm is not None:
        _renorm_rows(weight, np.unique(idx), float(max_norm), float(norm_type))
    out = ops.getitem(weight, idx)
    if scale_grad_by_freq and out.requires_grad:
        counts = np.bincount(idx.ravel(), minlength=n)[idx][..., None]
        held = Tensor(out.data)
        # NOTE: out - held is exactly 0, so the values stay the rows themselves; only the
        # gradient is scaled, by 1 / (occurrences of the row)
        out = held + (out - held) * Tensor((1.0 / counts).astype(out.dtype))
    if padding_idx is not None and out.requires_grad:
        keep = np.expand_dims(idx != padding_idx, -1)
        out = ops.where(keep, out, Tensor(out.data))  # same values; no gradient at padding
    return out


def _renorm_rows(weight: Tensor, rows: np.ndarray, max_norm: float, norm_type: float) -> None:
    """``embedding(max_norm=)``: rows of ``weight`` whose norm exceeds ``max_norm`` scaled to it
    (PyTorch's ``embedding_renorm_``, including its 1e-7 in the denominator)."""
    from ..tape import no_grad

    if not max_norm > 0:
        raise ValueError(f"embedding: max_norm must be > 0, got {max_norm}")
    if rows.size == 0:
        return
    norms = np.linalg.norm(weight.data[rows].astype(np.float64), ord=norm_type, axis=1)
    over = norms > max_norm
    if over.any():
        scale = (max_norm / (norms[over] + 1e-7)).astype(weight.dtype)[:, None]
        with no_grad():
            weight[rows[over]] = weight.data[rows[over]] * scale


def dropout(x: Any, p: float = 0.5, training: bool = True,
            rng: np.random.Generator | int | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by
    ``1 / (1 - p)``, so the expectation is unchanged; the identity when not ``training``.

    The mask is drawn from ``rng`` (a Generator or an int seed), else from the module-level
    generator of :mod:`minigrad.nn.init` (see :func:`minigrad.nn.manual_seed`).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p}")
    x = lift(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * np.zeros((), dtype=x.dtype)
    keep = get_rng(rng).random(x.shape) >= p
    return x * (keep * (1.0 / (1.0 - p))).astype(x.dtype)


def _normalized_axes(x: Tensor, normalized_shape: tuple[int, ...], who: str) -> tuple[int, ...]:
    k = len(normalized_shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise ValueError(f"{who}: input of shape {x.shape} does not end in normalized_shape "
                         f"{normalized_shape}")
    return tuple(range(x.ndim - k, x.ndim))


def layer_norm(x: Any, normalized_shape: int | Sequence[int], weight: Any = None,
               bias: Any = None, eps: float = 1e-5) -> Tensor:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the trailing ``normalized_shape``
    axes, with the biased variance (divide by the count), as in PyTorch."""
    x = lift(x)
    raw = (tuple(normalized_shape) if isinstance(normalized_shape, Sequence | np.ndarray)
           else (normalized_shape,))
    if any(isinstance(n, bool) or not isinstance(n, int | np.integer) for n in raw):
        raise TypeError(f"layer_norm: normalized_shape must hold integers, got "
                        f"{normalized_shape!r}")
    shape = tuple(int(n) for n in raw)
    axes = _normalized_axes(x, shape, "layer_norm")
    mu = ops.mean(x, axes, keepdims=True)
    d = x - mu
    y = d / ops.sqrt(ops.mean(d * d, axes, keepdims=True) + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, computed stably; ``x`` itself where ``beta x >
    threshold`` (as PyTorch). Its derivative is ``sigmoid(beta x)`` (1 past the threshold)."""
    x = lift(input)
    if beta == 1.0:
        soft = softplus_primitive(x)
    else:
        soft = softplus_primitive(x * beta) * (1.0 / beta)
    return ops.where((x * beta).data > threshold, x, soft)


def gelu(input: Any, approximate: str = "none") -> Tensor:
    """``x Phi(x)`` with Phi the standard normal CDF: ``0.5 x (1 + erf(x / sqrt 2))``; with
    ``approximate='tanh'``, ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    x = lift(input)
    if approximate == "none":
        return x * 0.5 * (1 + ops.erf(x * (1 / math.sqrt(2))))
    if approximate == "tanh":
        return x * 0.5 * (1 + tanh((x + 0.044715 * x * x * x) * math.sqrt(2 / math.pi)))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Any) -> Tensor:
    """``x sigmoid(x)`` (swish)."""
    x = lift(input)
    return x * sigmoid(x)


def leaky_relu(input: Any, negative_slope: float = 0.01) -> Tensor:
    """``x`` where ``x > 0``, ``negative_slope x`` elsewhere (the slope's side at 0, as
    PyTorch)."""
    x = lift(input)
    return ops.where(x.data > 0, x, x * negative_slope)


def elu(input: Any, alpha: float = 1.0) -> Tensor:
    """``x`` where ``x > 0``, ``alpha (exp(x) - 1)`` elsewhere."""
    # NOTE: expm1 of the negative part only: exp of a large positive x would overflow in the
    # branch where() drops, and its derivative (0 * inf) would be nan.
    x = lift(input)
    pos = x.data > 0
    return ops.where(pos, x, ops.expm1(ops.where(pos, 0, x)) * alpha)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows for integer labels: shape ``tensor.shape + (num_classes,)``;
    ``num_classes=-1`` means the largest label + 1."""
    t = np.asarray(tensor.data if isinstance(tensor, Tensor) else tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers (int64), got dtype {t.dtype}")
    if t.size and t.min() < 0:
        raise ValueError(f"one_hot: labels must be >= 0, got {int(t.min())}")
    n = (int(t.max()) + 1 if t.size else 0) if num_classes == -1 else int(num_classes)
    if t.size and t.max() >= n:
        raise ValueError(f"one_hot: label {int(t.max())} is out of range for num_classes={n}")
    return Tensor((t[..., None] == np.arange(n)).astype(np.int64))


def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``x / max(||x||_p, eps)`` along ``dim``."""
    x = lift(input)
    return x / ops.clamp(ops.norm(x, p, dim, keepdim=True), min=eps)


def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``sum(x1 x2) / (max(||x1||, eps) max(||x2||, eps))`` along ``dim`` (inputs broadcast).

    As in PyTorch, each input is divided by its own norm first (the result stays in [-1, 1]),
    and the ``eps`` floor is a constant shift: the gradient is that of the unclamped norm.
    """
    a, b = lift(x1), lift(x2)
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = ops.broadcast_to(a, shape), ops.broadcast_to(b, shape)

    def unit(v: Tensor) -> Tensor:
        n = ops.norm(v, 2, dim, keepdim=True)
        return v / (n + Tensor(np.maximum(n.data, eps) - n.data))

    return ops.sum(unit(a) * unit(b), dim)


def pad(input: Any, pad: Sequence[int], mode: str = "constant", value: float | None = None
        ) -> Tensor:
    """PyTorch's padding: ``pad = (left, right)`` for the last dim, then ``(top, bottom)`` for
    the one before, and so on. Negative amounts crop. ``mode`` is ``'constant'`` (``value``,
    default 0), ``'reflect'``, ``'replicate'`` or ``'circular'``."""
    x = lift(input)
    pad = tuple(int(v) for v in pad)
    if len(pad) % 2 or len(pad) > 2 * x.ndim:
        raise ValueError(f"pad: the pad tuple must have an even length of at most "
                         f"2 * rank = {2 * x.ndim}, got {len(pad)} values")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        grow = [(max(a, 0), max(b, 0)) for a, b in widths]
        out = ops.pad(x, grow, 0.0 if value is None else value) if any(map(any, grow)) else x
        cut = tuple(slice(-min(a, 0), out.shape[d] + min(b, 0))
                    for d, (a, b) in enumerate(widths))
        return out[cut] if any(a < 0 or b < 0 for a, b in widths) else out
    numpy_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(mode)
    if numpy_mode is None:
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', "
                         f"got {mode!r}")
    if value is not None:
        raise ValueError(f"pad: value is only for mode 'constant', got mode {mode!r}")
    for d, (a, b) in enumerate(widths):
        if a or b:
            n = x.shape[d]
            if min(a, b) < 0 or (mode == "reflect" and max(a, b) >= n) or max(a, b) > n:
                raise ValueError(f"pad: padding ({a}, {b}) is out of range for dim {d} of "
                                 f"size {n} in mode {mode!r}")
            idx = np.pad(np.arange(n), (a, b), mode=numpy_mode)  # type: ignore[call-overload]
            x = ops.index_select(x, d, idx)
    return x


def conv1d(input: Any, weight: Any, bias: Any = None, stride: int = 1, padding: Any = 0,
           dilation: int = 1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation, as PyTorch) over the last dim.

    Shapes: input ``(N, C_in, L)`` (or ``(C_in, L)``), weight ``(C_out, C_in / groups, K)``,
    bias ``(C_out,)``; the result is ``(N, C_out, L_out)`` with
    ``L_out = (L + 2 padding - dilation (K - 1) - 1) // stride + 1``:

        out[n, o, l] = bias[o] + sum_{c, k} weight[o, c, k] x[n, g(o) C_in/groups + c, l stride
                                                               + k dilation]

    ``padding`` is an int, ``'valid'`` (0) or ``'same'`` (stride 1; the extra zero, if any, on
    the right). The windows are gathered by indexing and contracted with one einsum, so the
    gradient comes from those two primitives.
    """
    x, w = lift(input), lift(weight)
    unbatched = x.ndim == 2
    if unbatched:
        x = ops.unsqueeze(x, 0)
    if x.ndim != 3 or w.ndim != 3:
        raise ValueError(f"conv1d: expects input (N, C_in, L) or (C_in, L) and weight "
                         f"(C_out, C_in / groups, K), got shapes {lift(input).shape} and "
                         f"{w.shape}")
    n, c_in, length = x.shape
    c_out, c_per, k = w.shape
    for name, v in (("stride", stride), ("dilation", dilation), ("groups", groups)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"conv1d: {name} must be a positive int, got {v!r}")
    if c_in % groups or c_out % groups or c_in // groups != c_per:
        raise ValueError(f"conv1d: input has {c_in} channels and weight shape {w.shape} with "
                         f"groups={groups}: expected C_in / groups = {c_per} and C_out "
                         "divisible by groups")
    span = dilation * (k - 1)
    if padding == "valid":
        left = right = 0
    elif padding == "same":
        if stride != 1:
            raise ValueError("conv1d: padding='same' needs stride 1")
        left, right = span // 2, span - span // 2
    elif isinstance(padding, int) and not isinstance(padding, bool) and padding >= 0:
        left = right = padding
    else:
        raise ValueError(f"conv1d: padding must be an int >= 0, 'valid' or 'same', got "
                         f"{padding!r}")
    if left or right:
        x = ops.pad(x, [(0, 0), (0, 0), (left, right)])
    l_out = (length + left + right - span - 1) // stride + 1
    if l_out < 1:
        raise ValueError(f"conv1d: input length {length} (padded {length + left + right}) is "
                         f"shorter than the kernel's span {span + 1}")
    pos = np.arange(k)[:, None] * dilation + np.arange(l_out)[None, :] * stride  # (K, L_out)
    cols = ops.reshape(x[..., pos], (n, groups, c_per, k, l_out))
    wg = ops.reshape(w, (groups, c_out // groups, c_per, k))
    out = ops.reshape(ops.einsum("ngckl,gock->ngol", cols, wg), (n, c_out, l_out))
    if bias is not None:
        out = out + ops.reshape(lift(bias), (c_out, 1))
    return ops.squeeze(out, 0) if unbatched else out


# ---- losses --------------------------------------------------------------------------------
def _float_input(value: Any, who: str) -> Tensor:
    x = lift(value)
    if x.dtype.kind != "f":
        raise TypeError(f"{who}: input must be floating point, got {x.dtype}")
    return x


def _like(value: Any, dtype: np.dtype) -> Tensor:
    """A Tensor as is; anything else (arrays, lists, numbers) as a constant of ``dtype``, so a
    float64 or integer target does not turn a float32 loss into float64."""
    return value if isinstance(value, Tensor) else Tensor(np.asarray(value, dtype=dtype))


def _check_reduction(reduction: str, who: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{who}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "sum":
        return ops.sum(loss)
    if reduction == "mean":
        return ops.mean(loss) if loss.size else ops.sum(loss) * np.asarray(np.nan, loss.dtype)
    return loss


def _class_inputs(x: Any, target: Any, ignore_index: int, who: str
                  ) -> tuple[Tensor, np.ndarray, bool]:
    """Check ``x`` (``(N, C, *d)`` or unbatched ``(C,)``) against integer ``target``
    (``(N, *d)`` or ``()``); returns batched versions and whether the input was unbatched."""
    x = _float_input(x, who)
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{who}: target must hold integer class labels, got dtype {t.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{who}: input must have a class axis, got a 0-d tensor")
    unbatched = x.ndim == 1
    if unbatched:
        x = ops.reshape(x, (1, x.shape[0]))
        t = t.reshape((1,) + t.shape)
    expected = (x.shape[0],) + tuple(x.shape[2:])
    if t.shape != expected:
        got = t.shape[1:] if unbatched else t.shape
        want = () if unbatched else expected
        raise ValueError(f"{who}: target shape {got} does not match input shape "
                         f"{x.shape[1:] if unbatched else x.shape}: expected {want}")
    n_classes = x.shape[1]
    if n_classes == 0:
        raise ValueError(f"{who}: input has no classes (shape {x.shape})")
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if bad.any():
        value = int(t[bad].flat[0])
        raise IndexError(f"{who}: target {value} is out of range for {n_classes} classes "
                         f"(labels must be in [0, {n_classes}) or equal "
                         f"ignore_index={ignore_index})")
    return x, t, unbatched


def _weighted_reduce(loss: Tensor, t: np.ndarray, weight: Any, ignore_index: int,
                     reduction: str, unbatched: bool, who: str, n_classes: int) -> Tensor:
    """Apply class weights and the reduction to per-position losses."""
    valid = t != ignore_index
    if weight is not None:
        weight = _like(weight, loss.dtype)
        if weight.shape != (n_classes,):
            raise ValueError(f"{who}: weight must have shape ({n_classes},) (one per class), "
                             f"got {weight.shape}")
        w = ops.where(valid, ops.getitem(weight, np.where(valid, t, 0)), 0)
        loss = loss * w
    if reduction == "none":
        return ops.reshape(loss, ()) if unbatched else loss
    total = ops.sum(loss)
    if reduction == "sum":
        return total
    if not valid.any():  # PyTorch's 0 / 0 = nan when every target is ignored (no numpy warning)
        return total * np.asarray(np.nan, dtype=loss.dtype)
    return total / (ops.sum(w) if weight is not None else int(valid.sum()))


def cross_entropy(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits ``input`` against class labels (or class probabilities)
    ``target``.

    ``input`` has shape ``(N, C)`` or ``(N, C, d1, ..., dk)`` (or ``(C,)`` for one sample) and
    integer ``target`` shape ``(N,)`` or ``(N, d1, ..., dk)`` (or ``()``). Per position,

        loss = -w[t] * log softmax(x)[t] = w[t] * (log sum_c exp(x_c) - x_t),

    with ``w`` the class ``weight`` (all ones by default) and 0 where ``t == ignore_index``.
    ``"mean"`` divides the sum by the sum of ``w[t]`` over non-ignored positions (their count
    when unweighted). Log-softmax and NLL are one fused primitive whose backward is
    ``softmax(x) - onehot(t)``, finite for any finite logits (see
    :mod:`minigrad.nn.losses`); it can be differentiated again.

    ``label_smoothing`` = e mixes in the uniform distribution, as PyTorch:
    ``(1 - e) loss + e / C * sum_c -w_c log softmax(x)_c`` (0 at ignored positions; the mean
    divides both parts by the same total). A floating ``target`` of the input's shape holds
    class probabilities: ``loss = -sum_c w_c target_c log softmax(x)_c``, its mean over
    positions.

    A label outside ``[0, C)`` other than ``ignore_index`` raises IndexError naming it.
    """
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    t_arr = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t_arr.dtype.kind == "f":
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    x, t, unbatched = _class_inputs(input, target, ignore_index, "cross_entropy")
    loss = cross_entropy_primitive(x, Tensor(t), ignore_index=int(ignore_index))
    nll = _weighted_reduce(loss, t, weight, ignore_index, reduction, unbatched,
                           "cross_entropy", x.shape[1])
    if label_smoothing == 0.0:
        return nll
    n_classes = x.shape[1]
    logp = log_softmax(x, 1)
    if weight is not None:
        logp = logp * ops.reshape(_like(weight, x.dtype), (1, n_classes) + (1,) * (x.ndim - 2))
    valid = t != ignore_index
    smooth = ops.where(valid, -ops.sum(logp, 1), 0)
    if reduction == "none":
        smooth = ops.reshape(smooth, ()) if unbatched else smooth
    elif reduction == "sum":
        smooth = ops.sum(smooth)
    elif not valid.any():
        smooth = ops.sum(smooth) * np.asarray(np.nan, dtype=x.dtype)
    elif weight is not None:
        smooth = ops.sum(smooth) / ops.sum(_like(weight, x.dtype)[t[valid]])
    else:
        smooth = ops.sum(smooth) / int(valid.sum())
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


def _cross_entropy_probs(input: Any, target: Any, weight: Any, reduction: str,
                         label_smoothing: float) -> Tensor:
    x = _float_input(input, "cross_entropy")
    y = _like(target, x.dtype)
    if x.shape != y.shape or x.ndim == 0:
        raise TypeError(f"cross_entropy: target must hold integer class labels, or class "
                        f"probabilities of the input's shape {x.shape}; got dtype {y.dtype} and "
                        f"shape {y.shape}")
    cdim = 0 if x.ndim == 1 else 1
    n_classes = x.shape[cdim]
    if label_smoothing:
        y = y * (1 - label_smoothing) + label_smoothing / n_classes
    terms = log_softmax(x, cdim) * y
    if weight is not None:
        w = _like(weight, x.dtype)
        if w.shape != (n_classes,):
            raise ValueError(f"cross_entropy: weight must have shape ({n_classes},), got "
                             f"{w.shape}")
        terms = terms * ops.reshape(w, (n_classes,) + (1,) * (x.ndim - cdim - 1))
    loss = -ops.sum(terms, cdim)
    if reduction == "mean":
        return ops.sum(loss) / max(x.size // max(n_classes, 1), 1) if x.size else \
            ops.sum(loss) * np.asarray(np.nan, dtype=x.dtype)
    return _reduce(loss, reduction)


def nll_loss(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (shapes as :func:`cross_entropy`):
    ``loss = -w[t] * input[t]`` per position, 0 where ``t == ignore_index``.

    ``cross_entropy(x, t)`` equals ``nll_loss(log_softmax(x, dim=1), t)``.
    """
    _check_reduction(reduction, "nll_loss")
    x, t, unbatched = _class_inputs(input, target, ignore_index, "nll_loss")
    n_classes = x.shape[1]
    classes = np.arange(n_classes).reshape((1, n_classes) + (1,) * (x.ndim - 2))
    pick = (np.expand_dims(t, 1) == classes) & np.expand_dims(t != ignore_index, 1)
    # where(), not x * onehot: a -inf log-probability of another class must not give 0 * inf
    loss = -ops.sum(ops.where(pick, x, 0), dim=1)
    return _weighted_reduce(loss, t, weight, ignore_index, reduction, unbatched, "nll_loss",
                            n_classes)


def _same_shape(x: Tensor, y: Tensor, who: str, a: str, b: str) -> None:
    if x.shape != y.shape:
        raise ValueError(f"{who}: {a} shape {x.shape} and {b} shape {y.shape} differ")


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target)^2``, reduced. The shapes must be equal."""
    _check_reduction(reduction, "mse_loss")
    x = _float_input(input, "mse_loss")
    y = _like(target, x.dtype)
    _same_shape(x, y, "mse_loss", "input", "target")
    d = x - y
    return _reduce(d * d, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Absolute error ``|input - target|``, reduced. The shapes must be equal."""
    _check_reduction(reduction, "l1_loss")
    x = _float_input(input, "l1_loss")
    y = _like(target, x.dtype)
    _same_shape(x, y, "l1_loss", "input", "target")
    return _reduce(ops.abs(x - y), reduction)


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0
                   ) -> Tensor:
    """Huber-like: ``0.5 d^2 / beta`` where ``|d| < beta``, ``|d| - 0.5 beta`` elsewhere
    (``d = input - target``; ``beta = 0`` is the L1 loss)."""
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    x = _float_input(input, "smooth_l1_loss")
    y = _like(target, x.dtype)
    _same_shape(x, y, "smooth_l1_loss", "input", "target")
    d = x - y
    a = ops.abs(d)
    if beta == 0:
        return _reduce(a, reduction)
    return _reduce(ops.where(a.data < beta, d * d * (0.5 / beta), a - 0.5 * beta), reduction)


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, reduction: str = "mean"
                         ) -> Tensor:
    """``-w (y log p + (1 - y) log(1 - p))`` for probabilities ``p`` in [0, 1].

    NOTE: each log is floored at -100, as in PyTorch, so p = 0 or 1 gives a finite loss. For
    logits, :func:`binary_cross_entropy_with_logits` is exact and stable; prefer it.
    """
    _check_reduction(reduction, "binary_cross_entropy")
    p = _float_input(input, "binary_cross_entropy")
    y = _like(target, p.dtype)
    _same_shape(p, y, "binary_cross_entropy", "input", "target")
    if p.size and (np.min(p.data) < 0 or np.max(p.data) > 1):
        raise ValueError(f"binary_cross_entropy: input must hold probabilities in [0, 1], got "
                         f"values in [{np.min(p.data):g}, {np.max(p.data):g}]")

    def safe_log(v: Tensor) -> Tensor:  # log(0) = -inf is floored at -100 with no warning
        pos = v.data > 0
        return ops.where(pos, ops.clamp(ops.log(ops.where(pos, v, 1)), min=-100), -100)

    loss = -(y * safe_log(p) + (1 - y) * safe_log(1 - p))
    if weight is not None:
        loss = loss * _like(weight, p.dtype)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)`` against targets in [0, 1], from the logits:

        loss = -w * (p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))
             = w * ((1 - y) x + (1 + (p - 1) y) softplus(-x))

    with ``w`` the elementwise ``weight`` and ``p`` the ``pos_weight`` (both optional, broadcast
    against the input). Without ``pos_weight`` this is ``w * (softplus(x) - x y)``, whose
    gradient in ``x`` is ``w * (sigmoid(x) - y)``.

    NOTE: log(sigmoid(x)) is -inf once sigmoid(x) underflows (x below about -100 in float32), and
    log(1 - sigmoid(x)) once it rounds to 1 (x above about 17). ``softplus`` computes
    log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)) without either, so the loss is finite for
    any finite logits.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    x = _float_input(input, "binary_cross_entropy_with_logits")
    y = _like(target, x.dtype)
    _same_shape(x, y, "binary_cross_entropy_with_logits", "input", "target")
    if pos_weight is None:
        loss = softplus_primitive(x) - x * y
    else:
        loss = (1 - y) * x + (1 + (_like(pos_weight, x.dtype) - 1) * y) * softplus_primitive(-x)
    if weight is not None:
        loss = loss * _like(weight, x.dtype)
    return _reduce(loss, reduction)
