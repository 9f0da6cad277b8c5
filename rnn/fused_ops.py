"""The fused path: a whole recurrent layer as ONE minigrad primitive around the Numba kernels.

For one layer (one or two directions) the primitive's forward does, on numpy arrays:

    reverse direction: x' = x with each sequence flipped within its own length (else x' = x)
    xw = x' @ W_ih^T                           one large GEMM over all T*B rows
    out, final states = kernel(xw, b, ...)     the recurrence: only what depends on h_{t-1}
                                               (the biases are added in its gate loop)
    reverse direction: flip out back into the input's time order

and its backward (backpropagation through time) runs the kernel's hand-written backward and
then, again as large GEMMs over all T*B rows,

    dW_ih = dXW^T @ x'      dx' = dXW @ W_ih

(the kernel's sweep also sums dXW over (T, B) into db_ih as it goes).

Flipping x (width I) rather than xw (width G) keeps the reordering cheap; the weight gradients
are sums over all (t, b), so their order never matters.

The two directions of a bidirectional layer are independent, so both passes run them
concurrently (:func:`minigrad.backend.run_pair`, one BLAS thread each). So are the batch rows
of one direction: on a quiet machine a layer with enough gate arithmetic per step runs the two
halves of its batch as two concurrent recurrences the same way (:data:`SPLIT_MIN_GATES`). The
whole layer is one tape entry. Its backward works on arrays only, so it cannot be
differentiated again itself: a ``create_graph=True`` backward, and forward mode, go through the
layer's reference twin instead (:mod:`rnn.fused_grad`, hooked in at the end of this file).

Shape legend: T time steps, B batch, I input size, H hidden size, G = gates * H,
D directions, P the width of h (LSTM proj_size, else H).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from minigrad import Primitive, Tensor, stack
from minigrad.backend import blas_threads, get_blas_threads, others_load, run_pair
from rnn.fused.gru import gru_backward, gru_forward
from rnn.fused.lstm import lstm_backward, lstm_forward
from rnn.fused.rnn_tanh import rnn_backward, rnn_forward

from .cells import GRUCell, LSTMCell, RNNCell, State
from .layers import reversal_index

__all__ = ["FusedLayer", "rnn_layer", "lstm_layer", "gru_layer"]

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


#: BLAS threads inside the time loop: an int, None (leave the pool as it is), or "auto".
#: NOTE: each step's GEMM is small. On a quiet machine the pool's second thread still pays
#: (15-20% per step, measured on 2 cores), but on a busy one every wake-up of that thread can
#: cost a scheduler time slice, and the same steps ran 1.2x-5x slower than with one thread.
#: "auto" uses one thread while other processes keep at least half a core busy
#: (:func:`minigrad.backend.others_load`), the pool otherwise.
#: The large GEMMs outside the loop (input projection, dW_ih) keep the whole pool, except in
#: small layers (below).
LOOP_BLAS_THREADS: int | None | str = "auto"

#: "auto" runs a whole layer call (loop and hoisted GEMMs) on one BLAS thread when a step's
#: recurrent GEMM has fewer FLOPs than this (2 * B * P * G).
#: NOTE: at B16 H64 a second thread gains nothing even on a quiet machine, and when another
#: thread pool is still spinning (PyTorch's, a second process) the pool made the same LSTM
#: step 3-7x slower (4.3 vs 1.5 ms quiet-ish; 14 vs 2.1 ms under load).
SMALL_STEP_FLOPS = 1 << 22


def _small(B: int, weights: Sequence[np.ndarray], names: tuple[str, ...]) -> bool:
    w_hh = weights[names.index("weight_hh")]  # (G, P), the same in every direction
    return LOOP_BLAS_THREADS == "auto" and 2 * B * w_hh.size < SMALL_STEP_FLOPS


def _loop_threads() -> int | None:
    if LOOP_BLAS_THREADS != "auto":
        return LOOP_BLAS_THREADS  # type: ignore[return-value]
    return 1 if others_load() > 0.5 else None


def _loop(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a kernel's time loop with :data:`LOOP_BLAS_THREADS` BLAS threads."""
    if get_blas_threads() == 1:  # a small layer, a direction of run_pair, or the user's choice
        return fn(*args)
    threads = _loop_threads()
    if threads is None:
        return fn(*args)
    with blas_threads(threads):
        return fn(*args)


#: "auto" splits a one-direction layer's batch into two halves run concurrently (two
#: independent recurrences, one BLAS thread each, :func:`minigrad.backend.run_pair`) when the
#: machine is otherwise quiet and a step has at least :data:`SPLIT_MIN_GATES` gate
#: pre-activations (B * G) but its recurrent GEMM is under :data:`SPLIT_STEP_FLOPS`.
#: NOTE: the rows of a batch never interact inside a recurrence, so the halves need no
#: synchronisation until the end. A second BLAS thread inside each step's small GEMM gains
#: little, while the gate arithmetic, which BLAS threads never share, is halved. Measured on 2
#: cores (training step, split / not split, interleaved medians of 9-15 rounds, three runs on a
#: noisy machine): LSTM B16 H64 0.72-0.85, B100 H100 0.50, B32 H256 0.75-0.91; GRU B16 H64
#: 0.67-0.99, B32 H256 0.75; RNN B16 H64 1.15-1.37 (B * G = 1024: too little work to pay for
#: the second thread), B32 H256 0.87-0.91; B64 H512 T128: LSTM 0.88-0.98 (float64 0.82), GRU
#: 0.88-1.07, RNN 0.93-0.98 (``python benchmarks/bench_split.py``; about even there, within
#: the machine's noise). Nothing larger was measured, so the split stops at the large
#: configuration's step GEMM (2 * 64 * 512 * 2048 FLOPs).
SPLIT_MIN_GATES = 2048
SPLIT_STEP_FLOPS = 1 << 28

#: The batch split: "auto" (the rule above), True (always, for a batch of two rows or more) or
#: False (never).
BATCH_SPLIT: bool | str = "auto"

_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

_ALL = slice(None)
Part = tuple[int, slice]
"""One independent recurrence of a layer call: (direction, batch rows)."""


def _plan(B: int, weights: Sequence[np.ndarray], names: tuple[str, ...], n_dir: int,
          ) -> list[Part]:
    """The recurrences one layer call runs: one per direction, or a batch in two halves."""
    if n_dir == 2:
        return [(0, _ALL), (1, _ALL)]
    w_hh = weights[names.index("weight_hh")]  # (G, P)
    split = BATCH_SPLIT is True or (
        BATCH_SPLIT == "auto" and LOOP_BLAS_THREADS == "auto" and _CORES >= 2
        and B * w_hh.shape[0] >= SPLIT_MIN_GATES and 2 * B * w_hh.size < SPLIT_STEP_FLOPS
        and others_load() <= 0.5)
    if split and B >= 2:
        return [(0, slice(0, B // 2)), (0, slice(B // 2, B))]
    return [(0, _ALL)]


def _run_parts(run: Callable[[int], Any], n_parts: int, small: bool) -> tuple[Any, ...]:
    """``run(i)`` for every part i: two parts concurrently (:func:`run_pair`, one BLAS thread
    each), one part on one BLAS thread when ``small`` (see :data:`SMALL_STEP_FLOPS`)."""
    if n_parts == 2:
        return run_pair(lambda: run(0), lambda: run(1))
    if small:
        with blas_threads(1):
            return (run(0),)
    return (run(0),)


def _join(parts: list[Part], values: Sequence[np.ndarray], batch_axis: int,
          n_dir: int) -> list[np.ndarray]:
    """Per direction, the parts' arrays joined along the batch axis."""
    if n_dir == 2 or len(parts) == 1:
        return list(values)
    return [np.concatenate(values, axis=batch_axis)]


def _stack(per_direction: list[np.ndarray]) -> np.ndarray:
    """(D, B, .) from D arrays of (B, .); one direction is a view, not a copy."""
    return per_direction[0][None] if len(per_direction) == 1 else np.stack(per_direction)


def _weights_of(weights: Sequence[np.ndarray], names: tuple[str, ...], d: int) -> Arrays:
    n = len(names)
    return dict(zip(names, weights[d * n:(d + 1) * n], strict=True))


def _layer_forward(kind: _Kind, x: np.ndarray, *arrays: np.ndarray, names: tuple[str, ...],
                   n_dir: int, lengths: np.ndarray | None, flip: np.ndarray,
                   option: Any) -> tuple[tuple[np.ndarray, ...], tuple[list[Part], list[Any]]]:
    """Inputs: x (T, B, I), the initial states (D, B, .) each, then every direction's weights."""
    states0, weights = arrays[:kind.n_states], arrays[kind.n_states:]
    B = x.shape[1]
    parts = _plan(B, weights, names, n_dir)

    def run(i: int) -> Any:
        d, rows = parts[i]
        w = _weights_of(weights, names, d)
        xs = _reading_order(x[:, rows], d, flip)
        T, B, I = xs.shape  # B: this part's rows
        xw = xs.reshape(T * B, I) @ w["weight_ih"].T  # the kernels add the biases
        out, finals, cache = _loop(kind.recur, xw.reshape(T, B, -1), w,
                                   [s[d][rows] for s in states0],
                                   None if lengths is None else lengths[rows], option)
        return _reading_order(out, d, flip), finals, cache

    results = _run_parts(run, len(parts), _small(B, weights, names))
    outs = _join(parts, [r[0] for r in results], 1, n_dir)
    out = outs[0] if n_dir == 1 else np.concatenate(outs, axis=2)
    finals = tuple(_stack(_join(parts, [r[1][j] for r in results], 0, n_dir))
                   for j in range(kind.n_states))
    return (out, *finals), (parts, [r[2] for r in results])


def _layer_backward(kind: _Kind, xp: Any, grads: tuple[np.ndarray, ...], ans: Any,
                    x: np.ndarray, *arrays: np.ndarray, aux: tuple[list[Part], list[Any]],
                    needs: tuple[bool, ...], names: tuple[str, ...], n_dir: int,
                    lengths: np.ndarray | None, flip: np.ndarray,
                    option: Any) -> tuple[np.ndarray | None, ...]:
    d_out, d_finals = grads[0], grads[1:]
    weights = arrays[kind.n_states:]
    B = x.shape[1]
    P = d_out.shape[2] // n_dir
    parts, caches = aux

    def run(i: int) -> Any:
        d, rows = parts[i]
        w = _weights_of(weights, names, d)
        g = _reading_order(d_out[:, rows, d * P:(d + 1) * P], d, flip)
        d_xw, d_rec, d_s0 = _loop(kind.recur_back, g,
                                  [np.ascontiguousarray(f[d][rows]) for f in d_finals], w,
                                  caches[i], option)
        xs = _reading_order(x[:, rows], d, flip)
        T, B, I = xs.shape  # B: this part's rows
        dxw2 = d_xw.reshape(T * B, -1)
        # NOTE: dW_ih and db_ih sum over every (t, b), so they need no un-flipping: d_xw and
        # the input, both in this direction's reading order, pair up step by step.
        d_w = {"weight_ih": dxw2.T @ xs.reshape(T * B, I), **d_rec}
        dx = None
        if needs[0]:  # x is data (no grad wanted) in most models: skip a (T*B, G) x (G, I) GEMM
            dx = _reading_order((dxw2 @ w["weight_ih"]).reshape(T, B, I), d, flip)
        return dx, [d_w[n] for n in names], d_s0

    results = _run_parts(run, len(parts), _small(B, weights, names))
    dx = None
    if needs[0]:
        dxs = _join(parts, [r[0] for r in results], 1, n_dir)
        dx = dxs[0] if n_dir == 1 else dxs[0] + dxs[1]
    d_states0 = [_stack(_join(parts, [r[2][j] for r in results], 0, n_dir))
                 for j in range(kind.n_states)]
    if n_dir == 2:
        d_weights = [g for r in results for g in r[1]]
    else:  # one direction, possibly in batch parts: each part's weight gradients add up
        d_weights = [sum(gs[1:], gs[0]) for gs in zip(*(r[1] for r in results), strict=True)]
    return (dx, *d_states0, *d_weights)


def _primitive(name: str, kind: _Kind) -> Primitive:
    def forward(*args: np.ndarray, **params: Any) -> Any:
        return _layer_forward(kind, *args, **params)

    def backward(*args: Any, **params: Any) -> Any:
        return _layer_backward(kind, *args, **params)

    prim = Primitive(name, forward, n_out=1 + kind.n_states, fused=True, has_aux=True)
    prim.defvjp(backward)
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

    def __init__(self, cells: Sequence[Any]) -> None:
        cell = cells[0]
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
        weights = [p for cell in self.cells for _, p in cell.named_parameters()]
        flip = reversal_index(T, lengths) if D == 2 else _NO_FLIP  # only the reverse reads it
        outs = self._op(x, *initial, *weights, names=self._names, n_dir=D, lengths=lengths,
                        flip=flip, option=self._option)
        return outs[0], tuple(outs[1:])


_NO_FLIP = np.zeros((0, 0), dtype=np.int64)



# ---- beyond the kernels: double backward and tangents through the reference cells ----------
from .fused_grad import attach_references  # noqa: E402

attach_references({"rnn": rnn_layer, "lstm": lstm_layer, "gru": gru_layer})
