"""The fused path: a whole recurrent layer as ONE minigrad primitive around the Numba kernels.

For one layer (one or two directions) the primitive's forward does, on numpy arrays:

    reverse direction: x' = x with each sequence flipped within its own length (else x' = x)
    xw = x' @ W_ih^T                           one large GEMM over all T*B rows
    out, final states = kernel(xw, b, ...)     the recurrence: only what depends on h_{t-1}
                                               (the biases are added in its gate loop)
    reverse direction: flip out back into the input's time order

and its backward (backpropagation through time) runs the kernel's hand-written backward and
then, again as large GEMMs over all T*B rows,

    dW_ih = dXW^T @ x'      dx' = dXW @ W_ih      dW_hh = dXW^T @ H_prev  (and the like)

(the kernel's sweep also sums dXW over (T, B) into db_ih as it goes). Steps at or beyond a
sequence's length are replaced by zeros in x (by selection) before any of this, so NaN or Inf
there reaches nothing.

Flipping x (width I) rather than xw (width G) keeps the reordering cheap; the weight gradients
are sums over all (t, b), so their order never matters.

Threads (:func:`minigrad.set_num_threads`): the recurrences of one layer call are independent
(each direction; and the rows of a batch never interact), so :func:`plan` cuts the call into up
to ``get_num_threads()`` parts, a pure function of the shapes and that setting, and a persistent
team (:func:`rnn.backend.run_parts`) runs the parts at once. Each part does all its own
work, the large GEMMs above included (its rows' share of each); the caller joins the rows and
adds the parts' weight gradients in a fixed order. Every GEMM runs on its own thread alone
(:func:`rnn.backend.gemm_serial`): nothing process-wide is changed, and numpy's BLAS pool
is never woken to spin beside the team. A given thread setting gives bitwise-identical results
on a quiet or a busy machine; two settings may differ in the last bits.

The whole layer is one tape entry. Its backward works on arrays only, so it cannot be
differentiated again itself: a ``create_graph=True`` backward, and forward mode, go through the
layer's reference twin instead (:mod:`rnn.fused_grad`, hooked in at the end of this file).

Shape legend: T time steps, B batch, I input size, H hidden size, G = gates * H,
D directions, P the width of h (LSTM proj_size, else H).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from minigrad import Primitive, Tensor, get_num_threads, stack
from rnn.backend import matmul_serial, run_parts
from rnn.fused.elman import rnn_backward, rnn_forward
from rnn.fused.gru import gru_backward, gru_forward
from rnn.fused.lstm import lstm_backward, lstm_forward

from .cells import GRUCell, LSTMCell, RNNCell, State
from .layers import reversal_index

__all__ = ["FusedLayer", "plan", "rnn_layer", "lstm_layer", "gru_layer"]

Arrays = dict[str, np.ndarray]


# ---- each cell's kernel pair, behind one calling convention ------------------------------------
#   recur(xw, w, states0, lengths, option) -> out, final states, cache
#   recur_back(d_out, d_finals, w, cache, option) -> d_xw, {name: grad of a recurrent weight},
#                                                    d_states0
# ``w`` maps the cell's parameter names to arrays; ``option`` is the RNN's nonlinearity or the
# GRU's reset_after.
def _bias(w: Arrays) -> np.ndarray | None:
    """b_ih + b_hh, which the RNN and LSTM kernels add inside their gate loops."""
    return w["bias_ih"] + w["bias_hh"] if "bias_ih" in w else None


def _bias_out(w: Arrays) -> np.ndarray | None:
    """An array for the kernel to sum the bias gradient into (None without biases)."""
    return np.empty(w["bias_ih"].shape, w["bias_ih"].dtype) if "bias_ih" in w else None


def _bias_grads(d_b: np.ndarray | None) -> Arrays:
    """Both biases' gradients from the kernel's sum: b_ih and b_hh enter z the same way."""
    return {} if d_b is None else {"bias_ih": d_b, "bias_hh": d_b.copy()}


def _rnn_recur(xw: np.ndarray, w: Arrays, s0: list[np.ndarray], lengths: Any, option: Any) -> Any:
    out, h_n, cache = rnn_forward(xw, w["weight_hh"], s0[0], lengths, option, _bias(w))
    return out, (h_n,), cache


def _rnn_recur_back(d_out: np.ndarray, d_fin: list[np.ndarray], w: Arrays, cache: Any,
                    option: Any) -> Any:
    d_b = _bias_out(w)
    d_xw, d_w_hh, d_h0 = rnn_backward(d_out, d_fin[0], w["weight_hh"], cache, option, d_b)
    return d_xw, {"weight_hh": d_w_hh, **_bias_grads(d_b)}, (d_h0,)


def _lstm_recur(xw: np.ndarray, w: Arrays, s0: list[np.ndarray], lengths: Any,
                option: Any) -> Any:
    out, h_n, c_n, cache = lstm_forward(xw, w["weight_hh"], w.get("weight_hr"), s0[0], s0[1],
                                        lengths, _bias(w))
    return out, (h_n, c_n), cache


def _lstm_recur_back(d_out: np.ndarray, d_fin: list[np.ndarray], w: Arrays, cache: Any,
                     option: Any) -> Any:
    d_b = _bias_out(w)
    d_xw, d_w_hh, d_w_hr, d_h0, d_c0 = lstm_backward(d_out, d_fin[0], d_fin[1], w["weight_hh"],
                                                     w.get("weight_hr"), cache, d_b)
    return d_xw, {"weight_hh": d_w_hh, "weight_hr": d_w_hr, **_bias_grads(d_b)}, (d_h0, d_c0)


def _gru_b_hh(w: Arrays) -> np.ndarray:
    """The GRU kernel takes b_hh apart from b_ih (b_hn sits inside the reset product)."""
    return w["bias_hh"] if "bias_hh" in w else np.zeros(w["weight_hh"].shape[0],
                                                          w["weight_hh"].dtype)


def _gru_recur(xw: np.ndarray, w: Arrays, s0: list[np.ndarray], lengths: Any, option: Any) -> Any:
    out, h_n, cache = gru_forward(xw, w["weight_hh"], _gru_b_hh(w), s0[0], lengths, option,
                                  w.get("bias_ih"))
    return out, (h_n,), cache


def _gru_recur_back(d_out: np.ndarray, d_fin: list[np.ndarray], w: Arrays, cache: Any,
                    option: Any) -> Any:
    d_b_ih = _bias_out(w)
    d_xw, d_w_hh, d_b_hh, d_h0 = gru_backward(d_out, d_fin[0], w["weight_hh"], _gru_b_hh(w),
                                              cache, option, d_b_ih)
    d_biases = {} if d_b_ih is None else {"bias_ih": d_b_ih, "bias_hh": d_b_hh}
    return d_xw, {"weight_hh": d_w_hh, **d_biases}, (d_h0,)


@dataclass(frozen=True)
class _Kind:
    n_states: int  # 1 (h) or 2 (h, c)
    recur: Callable[..., Any]
    recur_back: Callable[..., Any]


_KINDS = {
    "rnn": _Kind(1, _rnn_recur, _rnn_recur_back),
    "lstm": _Kind(2, _lstm_recur, _lstm_recur_back),
    "gru": _Kind(1, _gru_recur, _gru_recur_back),
}


# ---- the execution plan -------------------------------------------------------------------
#: A part of the batch runs as its own recurrence only when a step has at least this many gate
#: pre-activations in it (rows * G): below that the hand-off to a helper costs more than the
#: part's gate arithmetic.
#: NOTE: chosen from two-core measurements of two halves against the whole batch
#: (docs/fused-kernels.md): halves of 2048 gates gained, halves of 512 lost.
MIN_PART_GATES = 1024

Part = tuple[int, slice]
"""One independent recurrence of a layer call: (direction, batch rows)."""


def plan(B: int, G: int, n_dir: int, threads: int) -> list[Part]:
    """The recurrences one layer call runs, a pure function of its shapes and the thread
    setting (never of the machine's load): every direction's batch cut into ``k`` contiguous
    parts of nearly equal size, ``k`` the largest count with ``n_dir * k <= threads``, ``k <= B``
    and at least :data:`MIN_PART_GATES` gate pre-activations per part and step; at least one
    part per direction (with one thread, :func:`_run` runs them one after the other)."""
    k = max(1, min(threads // n_dir, B, (B * G) // MIN_PART_GATES))
    bounds = [B * i // k for i in range(k + 1)]
    return [(d, slice(bounds[i], bounds[i + 1])) for d in range(n_dir) for i in range(k)]


def _run(jobs: list[Callable[[], Any]]) -> list[Any]:
    """The jobs one after the other on one thread, or concurrently on the team."""
    if get_num_threads() == 1 or len(jobs) == 1:
        return [job() for job in jobs]
    return run_parts(jobs)


# ---- the layer primitive: forward and backward on arrays -------------------------------------
def _reading_order(a: np.ndarray, d: int, flip: np.ndarray) -> np.ndarray:
    """``a`` (T, B, .) in the order direction ``d`` reads it, C-contiguous.

    Direction 0 reads forwards; direction 1 reads each sequence backwards within its length
    (``flip`` is :func:`rnn.layers.reversal_index`, its own inverse, so the same call also
    turns the reverse direction's results back into time order).
    """
    if d == 0:
        return np.ascontiguousarray(a)
    return a[flip, np.arange(a.shape[1])[None, :]]


def _without_padding(x: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """``x`` with every step at or beyond its row's length replaced by 0, by selection.

    NOTE: the kernels never read a padded step, but the large GEMMs over all T * B rows do:
    dW_ih = dXW^T @ x pairs a zero row of dXW with the padded row of x, and 0 * NaN = NaN.
    Selecting (np.where), never multiplying by a mask, keeps NaN and Inf there out of every
    result.
    """
    if lengths is None or lengths.min() >= x.shape[0]:
        return x
    valid = np.arange(x.shape[0])[:, None] < lengths[None, :]
    return np.where(valid[:, :, None], x, x.dtype.type(0))


def _weights_of(weights: Sequence[np.ndarray], names: tuple[str, ...], d: int) -> Arrays:
    n = len(names)
    return dict(zip(names, weights[d * n:(d + 1) * n], strict=True))


def _join(values: list[np.ndarray], axis: int) -> np.ndarray:
    """One direction's parts joined along the batch axis (no copy for a single part)."""
    return values[0] if len(values) == 1 else np.concatenate(values, axis=axis)


def _rows(a: np.ndarray, rows: slice) -> np.ndarray:
    """``a[:, rows]`` of a (T, B, .) array as a C-contiguous (T * rows, .) matrix."""
    part = np.ascontiguousarray(a[:, rows])
    return part.reshape(-1, a.shape[2])


def _layer_forward(kind: _Kind, x: np.ndarray, *arrays: np.ndarray, names: tuple[str, ...],
                   n_dir: int, lengths: np.ndarray | None, flip: np.ndarray,
                   option: Any) -> tuple[tuple[np.ndarray, ...], tuple[list[Part], list[Any]]]:
    """Inputs: x (T, B, I), the initial states (D, B, .) each, then every direction's weights."""
    states0, weights = arrays[:kind.n_states], arrays[kind.n_states:]
    T, B, I = x.shape
    x = _without_padding(x, lengths)
    xs = [_reading_order(x, d, flip) for d in range(n_dir)]
    G = weights[names.index("weight_hh")].shape[0]
    parts = plan(B, G, n_dir, get_num_threads())

    def job(d: int, rows: slice) -> Callable[[], Any]:
        def run() -> Any:
            w = _weights_of(weights, names, d)
            # the input projection of these rows, one product (the kernels add the biases)
            xw = matmul_serial(_rows(xs[d], rows), w["weight_ih"], trans_b=True)
            return kind.recur(xw.reshape(T, -1, G), w, [s[d][rows] for s in states0],
                              None if lengths is None else lengths[rows], option)
        return run

    results = _run([job(d, rows) for d, rows in parts])
    outs, finals = [], [[] for _ in range(kind.n_states)]  # type: ignore[var-annotated]
    for d in range(n_dir):
        mine = [r for (dd, _), r in zip(parts, results, strict=True) if dd == d]
        outs.append(_reading_order(_join([r[0] for r in mine], 1), d, flip))
        for j in range(kind.n_states):
            finals[j].append(_join([r[1][j] for r in mine], 0))
    out = outs[0] if n_dir == 1 else np.concatenate(outs, axis=2)
    return (out, *(np.stack(f) for f in finals)), (parts, [r[2] for r in results])


def _layer_backward(kind: _Kind, xp: Any, grads: tuple[np.ndarray, ...], ans: Any,
                    x: np.ndarray, *arrays: np.ndarray, aux: tuple[list[Part], list[Any]],
                    needs: tuple[bool, ...], names: tuple[str, ...], n_dir: int,
                    lengths: np.ndarray | None, flip: np.ndarray,
                    option: Any) -> tuple[np.ndarray | None, ...]:
    d_out, d_finals = grads[0], grads[1:]
    weights = arrays[kind.n_states:]
    T, B, I = x.shape
    P = d_out.shape[2] // n_dir
    parts, caches = aux
    x = _without_padding(x, lengths)
    xs = [_reading_order(x, d, flip) for d in range(n_dir)]
    g = [_reading_order(d_out[:, :, d * P:(d + 1) * P], d, flip) for d in range(n_dir)]

    def job(i: int) -> Callable[[], Any]:
        def run() -> Any:
            d, rows = parts[i]
            w = _weights_of(weights, names, d)
            d_xw, d_w, d_s0 = kind.recur_back(
                g[d][:, rows], [np.ascontiguousarray(f[d][rows]) for f in d_finals], w,
                caches[i], option)
            dxw2 = d_xw.reshape(-1, d_xw.shape[2])
            # NOTE: dW_ih sums over every (t, b), so it needs no un-flipping: d_xw and the
            # input, both in this direction's reading order, pair up step by step.
            d_w["weight_ih"] = matmul_serial(dxw2, _rows(xs[d], rows), trans_a=True)
            dx = None
            if needs[0]:  # x is data (no grad wanted) in most models: skip a (T*B, G) x (G, I)
                dx = matmul_serial(dxw2, w["weight_ih"]).reshape(T, -1, I)
            return dx, d_w, d_s0
        return run

    results = _run([job(i) for i in range(len(parts))])
    # join the parts: rows side by side; each part's weight gradients added, in part order
    dx = None
    d_states0: list[list[np.ndarray]] = [[] for _ in range(kind.n_states)]
    d_weights: list[np.ndarray] = []
    for d in range(n_dir):
        mine = [r for (dd, _), r in zip(parts, results, strict=True) if dd == d]
        for name in names:
            values = [r[1][name] for r in mine]
            d_weights.append(sum(values[1:], values[0]))
        for j in range(kind.n_states):
            d_states0[j].append(_join([r[2][j] for r in mine], 0))
        if needs[0]:
            dx_d = _reading_order(_join([r[0] for r in mine], 1), d, flip)
            dx = dx_d if dx is None else dx + dx_d
    return (dx, *(np.stack(s) for s in d_states0), *d_weights)


class _LayerPrimitive(Primitive):
    """A fused layer primitive. It pickles by name, as the module-level object it is (its
    ``reference`` and ``jvp`` are closures, and a second primitive of one name cannot exist), so a
    :class:`FusedLayer` that holds one pickles too."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return self.name  # pickle stores ``rnn.fused_ops.<name>`` and loads that object


def _primitive(name: str, kind: _Kind) -> Primitive:
    # module-level functions bound with partial, never local closures: they pickle
    prim = _LayerPrimitive(name, partial(_layer_forward, kind), n_out=1 + kind.n_states,
                           fused=True, has_aux=True)
    prim.defvjp(partial(_layer_backward, kind))
    return prim


#: ``out, h_n = rnn_layer(x, h0, *weights, names=, n_dir=, lengths=, flip=, option=)``
rnn_layer = _primitive("rnn_layer", _KINDS["rnn"])
#: ``out, h_n, c_n = lstm_layer(x, h0, c0, *weights, ...)``
lstm_layer = _primitive("lstm_layer", _KINDS["lstm"])
#: ``out, h_n = gru_layer(x, h0, *weights, ...)``
gru_layer = _primitive("gru_layer", _KINDS["gru"])


# ---- the layer object that run_stack calls --------------------------------------------------
class FusedLayer:
    """One layer (one or two directions of built-in cells) run by its fused primitive.

    Called like :class:`rnn.layers.Recurrent` / :class:`~rnn.layers.Bidirectional`:
    ``output, states = layer(x, states=None, lengths=None)`` with x (T, B, I) time-major,
    output (T, B, D*P), one final state per direction.
    """

    def __init__(self, cells: Sequence[Any], name: str = "fused layer", index: int = 0) -> None:
        cell = cells[0]
        self.name = name  # for errors: the model's name and this layer's index in the stack
        self.index = index
        self._option: Any
        if isinstance(cell, LSTMCell):
            self._op, self._option = lstm_layer, None
        elif isinstance(cell, GRUCell):
            self._op, self._option = gru_layer, cell.reset_after
        elif isinstance(cell, RNNCell):
            self._op, self._option = rnn_layer, cell.nonlinearity
        else:
            raise TypeError(f"FusedLayer: no fused kernel for {type(cell).__name__}")
        self.cells = list(cells)
        self.num_directions = len(cells)
        self._names = tuple(name for name, _ in cell.named_parameters())
        self._widths = ((cell.output_size, cell.hidden_size) if isinstance(cell, LSTMCell)
                        else (cell.hidden_size,))

    def __call__(self, x: Tensor, states: Sequence[State | None] | None = None,
                 lengths: np.ndarray | None = None) -> tuple[Tensor, list[State]]:
        out, finals = self.run(x, states, lengths)
        per_direction: list[State] = []
        for d in range(self.num_directions):
            parts = tuple(f[d] for f in finals)
            per_direction.append(parts[0] if len(parts) == 1 else parts)
        return out, per_direction

    def run(self, x: Tensor, states: Sequence[State | None] | None = None,
            lengths: np.ndarray | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Like calling the layer, but the final states come as the primitive made them: one
        (D, B, .) tensor per kind of state (h; h and c for an LSTM), with no split."""
        T, B = x.shape[0], x.shape[1]
        D = self.num_directions
        dtype = self.cells[0].weight_ih.dtype
        initial: list[Tensor] = []
        for j, width in enumerate(self._widths):
            given = [None if s is None else (s[j] if isinstance(s, tuple) else s)
                     for s in (states or [None] * D)]
            if all(g is None for g in given):
                initial.append(Tensor(np.zeros((D, B, width), dtype=dtype)))
            else:
                zero = Tensor(np.zeros((B, width), dtype=dtype))
                initial.append(stack([zero if g is None else g for g in given]))
        names, weights = self._weights(x.dtype)
        flip = reversal_index(T, lengths) if D == 2 else _NO_FLIP  # only the reverse reads it
        outs = self._op(x, *initial, *weights, names=names, n_dir=D, lengths=lengths,
                        flip=flip, option=self._option)
        return outs[0], tuple(outs[1:])


    def _weights(self, dtype: np.dtype[Any]) -> tuple[tuple[str, ...], list[Tensor]]:
        """The parameter names and every direction's parameters in that order, as the cells
        hold them now (read at each call, never cached: assigning a new Parameter to a cell
        takes effect at the next call), each checked: dtype that of the input, shape the
        cell's."""
        names = tuple(self._names)
        weights = []
        for d, cell in enumerate(self.cells):
            expected = dict(_expected_shapes(cell))
            params = dict(cell.named_parameters())
            for pname in names:
                p = params[pname]
                full = f"{pname}_l{self.index}" + ("_reverse" if d else "")
                if p.dtype != dtype:
                    raise TypeError(f"{self.name}: parameter {full} has dtype {p.dtype}, but the "
                                    f"layer runs in {dtype} (the input's dtype); convert it")
                if pname in expected and tuple(p.shape) != expected[pname]:
                    raise ValueError(f"{self.name}: parameter {full} has shape {tuple(p.shape)}, "
                                     f"expected {expected[pname]}")
                weights.append(p)
        return names, weights


def _expected_shapes(cell: Any) -> list[tuple[str, tuple[int, ...]]]:
    """The parameter shapes a built-in cell's kernel needs (PyTorch's layout)."""
    gates = 4 if isinstance(cell, LSTMCell) else 3 if isinstance(cell, GRUCell) else 1
    G = gates * cell.hidden_size
    P = cell.output_size if isinstance(cell, LSTMCell) else cell.hidden_size
    shapes = [("weight_ih", (G, cell.input_size)), ("weight_hh", (G, P)),
              ("bias_ih", (G,)), ("bias_hh", (G,))]
    if isinstance(cell, LSTMCell) and P != cell.hidden_size:
        shapes.append(("weight_hr", (P, cell.hidden_size)))
    return shapes


_NO_FLIP = np.zeros((0, 0), dtype=np.int64)


# ---- beyond the kernels: double backward and tangents through the reference cells ----------
from .fused_grad import attach_references  # noqa: E402

attach_references({"rnn": rnn_layer, "lstm": lstm_layer, "gru": gru_layer})
