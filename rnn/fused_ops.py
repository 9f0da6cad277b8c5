"""The fused path: a whole recurrent layer as ONE minigrad primitive around the Numba kernels.

For one layer (one or two directions) the primitive's forward does, on numpy arrays:

    reverse direction: x' = x with each sequence flipped within its own length (else x' = x)
    xw = x' @ W_ih^T + b_ih (+ b_hh)           one large GEMM over all T*B rows
    out, final states = kernel(xw, ...)        the recurrence: only what depends on h_{t-1}
    reverse direction: flip out back into the input's time order

and its backward (backpropagation through time) runs the kernel's hand-written backward and
then, again as large GEMMs over all T*B rows,

    dW_ih = dXW^T @ x'      db_ih = sum of dXW over (T, B)      dx' = dXW @ W_ih

Flipping x (width I) rather than xw (width G) keeps the reordering cheap; the weight gradients
are sums over all (t, b), so their order never matters.

The two directions of a bidirectional layer are independent, so both passes run them
concurrently (:func:`minigrad.backend.run_pair`, one BLAS thread each). The whole layer is one
tape entry. Its backward works on arrays only, so it cannot be differentiated again: a
``create_graph=True`` backward through it raises an error pointing at ``impl="reference"``.

Shape legend: T time steps, B batch, I input size, H hidden size, G = gates * H,
D directions, P the width of h (LSTM proj_size, else H).
"""

from __future__ import annotations

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
def _rnn_recur(xw: np.ndarray, w: Arrays, s0: list[np.ndarray], lengths: Any, option: Any) -> Any:
    out, h_n, cache = rnn_forward(xw, w["weight_hh"], s0[0], lengths, option)
    return out, (h_n,), cache


def _rnn_recur_back(d_out: np.ndarray, d_fin: list[np.ndarray], w: Arrays, cache: Any,
                    option: Any) -> Any:
    d_xw, d_w_hh, d_h0 = rnn_backward(d_out, d_fin[0], w["weight_hh"], cache, option)
    return d_xw, {"weight_hh": d_w_hh}, (d_h0,)


def _lstm_recur(xw: np.ndarray, w: Arrays, s0: list[np.ndarray], lengths: Any,
                option: Any) -> Any:
    out, h_n, c_n, cache = lstm_forward(xw, w["weight_hh"], w.get("weight_hr"), s0[0], s0[1],
                                        lengths)
    return out, (h_n, c_n), cache


def _lstm_recur_back(d_out: np.ndarray, d_fin: list[np.ndarray], w: Arrays, cache: Any,
                     option: Any) -> Any:
    d_xw, d_w_hh, d_w_hr, d_h0, d_c0 = lstm_backward(d_out, d_fin[0], d_fin[1], w["weight_hh"],
                                                     w.get("weight_hr"), cache)
    return d_xw, {"weight_hh": d_w_hh, "weight_hr": d_w_hr}, (d_h0, d_c0)


def _gru_b_hh(w: Arrays) -> np.ndarray:
    """The GRU kernel takes b_hh apart from xw (b_hn sits inside the reset product)."""
    return w["bias_hh"] if "bias_hh" in w else np.zeros(w["weight_hh"].shape[0],
                                                          w["weight_hh"].dtype)


def _gru_recur(xw: np.ndarray, w: Arrays, s0: list[np.ndarray], lengths: Any, option: Any) -> Any:
    out, h_n, cache = gru_forward(xw, w["weight_hh"], _gru_b_hh(w), s0[0], lengths, option)
    return out, (h_n,), cache


def _gru_recur_back(d_out: np.ndarray, d_fin: list[np.ndarray], w: Arrays, cache: Any,
                    option: Any) -> Any:
    d_xw, d_w_hh, d_b_hh, d_h0 = gru_backward(d_out, d_fin[0], w["weight_hh"], _gru_b_hh(w),
                                              cache, option)
    return d_xw, {"weight_hh": d_w_hh, "bias_hh": d_b_hh}, (d_h0,)


@dataclass(frozen=True)
class _Kind:
    n_states: int  # 1 (h) or 2 (h, c)
    fold_b_hh: bool  # b_hh added into xw (RNN, LSTM) or handed to the kernel (GRU)
    recur: Callable[..., Any]
    recur_back: Callable[..., Any]


_KINDS = {
    "rnn": _Kind(1, True, _rnn_recur, _rnn_recur_back),
    "lstm": _Kind(2, True, _lstm_recur, _lstm_recur_back),
    "gru": _Kind(1, False, _gru_recur, _gru_recur_back),
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


def _directions(run: Callable[[int], Any], n_dir: int, small: bool) -> tuple[Any, ...]:
    """``run(0)``, and ``run(1)`` concurrently with it for a bidirectional layer.

    A bidirectional layer runs each direction on one BLAS thread (:func:`run_pair`); a
    ``small`` one-direction layer too (see :data:`SMALL_STEP_FLOPS`).
    """
    if n_dir == 2:
        return run_pair(lambda: run(0), lambda: run(1))
    if small:
        with blas_threads(1):
            return (run(0),)
    return (run(0),)


def _stack(per_direction: list[np.ndarray]) -> np.ndarray:
    """(D, B, .) from D arrays of (B, .); one direction is a view, not a copy."""
    return per_direction[0][None] if len(per_direction) == 1 else np.stack(per_direction)


def _split(weights: Sequence[np.ndarray], names: tuple[str, ...], d: int) -> Arrays:
    n = len(names)
    return dict(zip(names, weights[d * n:(d + 1) * n], strict=True))


def _layer_forward(kind: _Kind, x: np.ndarray, *arrays: np.ndarray, names: tuple[str, ...],
                   n_dir: int, lengths: np.ndarray | None, flip: np.ndarray,
                   option: Any) -> tuple[tuple[np.ndarray, ...], list[Any]]:
    """Inputs: x (T, B, I), the initial states (D, B, .) each, then every direction's weights."""
    states0, weights = arrays[:kind.n_states], arrays[kind.n_states:]
    T, B, I = x.shape

    def direction(d: int) -> Any:
        w = _split(weights, names, d)
        xs = _reading_order(x, d, flip)
        xw = xs.reshape(T * B, I) @ w["weight_ih"].T
        if "bias_ih" in w:
            xw += (w["bias_ih"] + w["bias_hh"]) if kind.fold_b_hh else w["bias_ih"]
        out, finals, cache = _loop(kind.recur, xw.reshape(T, B, -1), w,
                                   [s[d] for s in states0], lengths, option)
        return _reading_order(out, d, flip), finals, cache

    results = _directions(direction, n_dir, _small(B, weights, names))
    out = results[0][0] if n_dir == 1 else np.concatenate([r[0] for r in results], axis=2)
    finals = tuple(_stack([r[1][j] for r in results]) for j in range(kind.n_states))
    return (out, *finals), [r[2] for r in results]


def _layer_backward(kind: _Kind, xp: Any, grads: tuple[np.ndarray, ...], ans: Any,
                    x: np.ndarray, *arrays: np.ndarray, aux: list[Any], needs: tuple[bool, ...],
                    names: tuple[str, ...], n_dir: int, lengths: np.ndarray | None,
                    flip: np.ndarray, option: Any) -> tuple[np.ndarray | None, ...]:
    d_out, d_finals = grads[0], grads[1:]
    weights = arrays[kind.n_states:]
    T, B, I = x.shape
    P = d_out.shape[2] // n_dir

    def direction(d: int) -> Any:
        w = _split(weights, names, d)
        g = _reading_order(d_out[:, :, d * P:(d + 1) * P], d, flip)
        d_xw, d_rec, d_s0 = _loop(kind.recur_back, g,
                                  [np.ascontiguousarray(f[d]) for f in d_finals], w, aux[d],
                                  option)
        dxw2 = d_xw.reshape(T * B, -1)
        # NOTE: dW_ih and db_ih sum over every (t, b), so they need no un-flipping: d_xw and
        # the input, both in this direction's reading order, pair up step by step.
        d_w = {"weight_ih": dxw2.T @ _reading_order(x, d, flip).reshape(T * B, I), **d_rec}
        if "bias_ih" in w:
            d_w["bias_ih"] = dxw2.sum(axis=0)
            if kind.fold_b_hh:
                d_w["bias_hh"] = d_w["bias_ih"].copy()
        dx = None
        if needs[0]:  # x is data (no grad wanted) in most models: skip a (T*B, G) x (G, I) GEMM
            dx = _reading_order((dxw2 @ w["weight_ih"]).reshape(T, B, I), d, flip)
        return dx, [d_w[n] for n in names], d_s0

    results = _directions(direction, n_dir, _small(B, weights, names))
    dx = results[0][0] if n_dir == 1 or not needs[0] else results[0][0] + results[1][0]
    d_states0 = [_stack([r[2][j] for r in results]) for j in range(kind.n_states)]
    return (dx, *d_states0, *[g for r in results for g in r[1]])


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

