"""Derivatives of the fused layers beyond the kernels' own: through the reference cells.

The fused kernels compute a layer's outputs and its gradient on arrays. For anything more (a
gradient that is differentiated again, ``create_graph=True``; tangents in forward mode) each
fused layer primitive carries a *reference*: the same layer computed by the cells of
:mod:`rnn.cells` step by step, through :func:`rnn.layers.run_cell`, from the same arguments::

    reference(x, *initial_states, *weights, names=, n_dir=, lengths=, flip=, option=)
        -> (output, *final_states)       exactly the fused primitive's outputs

:mod:`minigrad.reference` does the rest: a ``create_graph=True`` backward differentiates the
reference in place of the kernel's backward, and forward mode takes the reference's tangents,
while the outputs and the plain backward stay the kernels'. Both agree with the reference path
(``impl="reference"``) to rounding, 1e-10 in float64 (``tests/test_fused_double_backward.py``).
Shape legend as in :mod:`rnn.fused_ops`: T, B, I, H, D directions, P the width of h.
"""

from __future__ import annotations

from typing import Any

import minigrad as mg
from minigrad import Primitive, Tensor
from minigrad.reference import jvp_through_reference

from .cells import GRUCell, LSTMCell, RNNCell
from .layers import run_cell

__all__ = ["attach_references", "layer_reference"]

_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _cell(kind: str, w: dict[str, Tensor], option: Any) -> Any:
    """A cell of ``kind`` that computes with the tensors ``w`` (by parameter name).

    The cell is built as usual and then reads ``w`` in place of its own parameters: plain
    attributes, so nothing is registered and the tensors stay on the caller's graph.
    """
    G, I = w["weight_ih"].shape
    H = G // _GATES[kind]
    bias = "bias_ih" in w
    dtype = w["weight_ih"].dtype
    cell: Any
    if kind == "rnn":
        cell = RNNCell(I, H, bias, option, dtype=dtype, rng=0)
    elif kind == "gru":
        cell = GRUCell(I, H, bias, option, dtype=dtype, rng=0)
    else:
        proj = w["weight_hr"].shape[0] if "weight_hr" in w else 0
        cell = LSTMCell(I, H, bias, proj, dtype=dtype, rng=0)
    for name, t in w.items():
        object.__setattr__(cell, name, t)
    return cell


def layer_reference(kind: str) -> Any:
    """The reference of the fused ``kind`` layer primitive ("rnn", "lstm" or "gru")."""
    n_states = 2 if kind == "lstm" else 1

    def reference(x: Tensor, *arrays: Tensor, names: tuple[str, ...], n_dir: int,
                  lengths: Any, flip: Any, option: Any) -> tuple[Tensor, ...]:
        states0, weights = arrays[:n_states], arrays[n_states:]
        n = len(names)
        outs, finals = [], []
        for d in range(n_dir):
            cell = _cell(kind, dict(zip(names, weights[d * n:(d + 1) * n], strict=True)), option)
            s0 = tuple(s[d] for s in states0)
            out, final = run_cell(cell, x, s0 if n_states == 2 else s0[0], lengths,
                                  reverse=d == 1)
            outs.append(out)
            finals.append(final if isinstance(final, tuple) else (final,))
        out = outs[0] if n_dir == 1 else mg.concatenate(outs, axis=-1)
        return (out, *(mg.stack([f[j] for f in finals]) for j in range(n_states)))

    reference.__name__ = reference.__qualname__ = f"{kind}_layer_reference"
    return reference


def attach_references(primitives: dict[str, Primitive]) -> None:
    """Give each fused layer primitive (by kind) its reference and a jvp rule through it."""
    for kind, prim in primitives.items():
        prim.reference = layer_reference(kind)
        prim.defjvp(jvp_through_reference(prim.reference))
