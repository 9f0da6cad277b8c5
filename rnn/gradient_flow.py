"""Gradient flow through time: how much of dLoss reaches each hidden state h_t of a layer.

    >>> import numpy as np, rnn
    >>> from rnn.gradient_flow import gradient_flow
    >>> layer = rnn.RNN(4, 8, dtype=np.float64, rng=0)
    >>> x = np.random.default_rng(0).normal(size=(20, 1, 4))
    >>> norms = gradient_flow(layer, x)            # (20,): ||dLoss/dh_t||, loss on the last step
    >>> bool(norms[0] < norms[-1])
    True

``dLoss/dh_t`` is the *total* derivative: everything the loss owes to h_t, through the output
at step t and through every later step (what ``h_t.retain_grad()`` would hold after backward).
For a loss on the last step it is the product of the step Jacobians from T-1 down to t, the
quantity whose vanishing or explosion ``docs/bptt.md`` derives.

How it is measured, on either path of a layer (``impl="reference"`` or ``"fused"``): the layer
is called one step at a time, ``out_t, state_t = layer(x[t], state_{t-1})``, which computes what
one call on the whole sequence computes. Then ``h_t`` is an output of a layer call, and a hook
(:meth:`minigrad.Tensor.register_hook`) on the two tensors that carry it, ``out_t`` (towards the
loss) and the top layer's row of ``h_n`` (towards step t+1), reads the gradient that arrives
there; their sum is dLoss/dh_t. On the reference path those tensors are the outputs of the
cell's last op; on the fused path they are outputs of the fused kernel's tape entry, so the
gradient read there is the layer's output gradient, computed by the kernel's backward of the
later steps. Nothing is written to the parameters' ``.grad``.

Only one-directional layers have one h_t per step; a bidirectional layer is refused. Dropout
is not applied (the layer is run as in eval mode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import minigrad as mg
from minigrad import Tensor

__all__ = ["default_loss", "gradient_flow", "hidden_grads"]

Loss = Callable[[Tensor], Tensor]


def default_loss(out: Tensor) -> Tensor:
    """The sum of the last step's output: ``out[-1].sum()`` on the time-major (T, B, P) output."""
    return out[-1].sum()


def hidden_grads(layer: Any, x: Any, hx: Any = None, loss: Loss | None = None) -> np.ndarray:
    """``dLoss/dh_t`` for every step t, as an array (T, B, P) (P the width of h).

    Args:
        layer: a one-directional :class:`rnn.RNN`, :class:`rnn.LSTM` or :class:`rnn.GRU`
            (any number of layers; h_t is the top layer's state), on either path.
        x: the input, (T, B, I), or (B, T, I) for a ``batch_first`` layer; the layer's dtype.
        hx: the initial state, as the layer takes it (None for zeros).
        loss: maps the layer's output, always time-major (T, B, P), to a scalar Tensor;
            default :func:`default_loss`, the sum of the last step's output.
    """
    if getattr(layer, "bidirectional", False):
        raise ValueError("hidden_grads: a bidirectional layer has two states per step; "
                         "measure each direction as its own one-directional layer")
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    if x.ndim != 3:
        raise ValueError(f"hidden_grads: expected a 3-D input, got shape {x.shape}")
    time_axis = 1 if getattr(layer, "batch_first", False) else 0
    T = x.shape[time_axis]
    top = getattr(layer, "num_layers", 1) - 1
    loss = default_loss if loss is None else loss

    # h_t reaches the loss through out_t and through state_t; a hook on each reads its gradient
    arrived: dict[tuple[str, int], np.ndarray] = {}

    def reader(key: tuple[str, int]) -> Callable[[Tensor], None]:
        def hook(g: Tensor) -> None:
            arrived[key] = np.array(g.data)

        return hook

    was_training = layer.training
    layer.eval()
    try:
        outs: list[Tensor] = []
        state = hx
        first: Tensor | None = None
        for t in range(T):
            xt = x[:, t:t + 1] if time_axis else x[t:t + 1]
            out_t, state = layer(xt, state)
            h_n = state[0] if isinstance(state, tuple) else state  # (L, B, P)
            out_t.register_hook(reader(("out", t)))
            h_n.register_hook(reader(("state", t)))
            outs.append(out_t.swapaxes(0, 1) if time_axis else out_t)
            if first is None:
                first = out_t
        value = loss(mg.concatenate(outs, axis=0))
        if value.size != 1:
            raise ValueError(f"hidden_grads: the loss must be a scalar, got shape {value.shape}")
        assert first is not None
        # mg.grad runs the backward without touching any .grad; the hooks catch the rest
        mg.grad(value, first, allow_unused=True)
    finally:
        layer.train(was_training)

    B, P = outs[0].shape[1], outs[0].shape[2]
    result = np.zeros((T, B, P), dtype=x.dtype)
    for t in range(T):
        g_out = arrived.get(("out", t))
        if g_out is not None:
            result[t] += g_out[:, 0] if time_axis else g_out[0]
        g_state = arrived.get(("state", t))
        if g_state is not None:
            result[t] += g_state[top]
    return result


def gradient_flow(layer: Any, x: Any, hx: Any = None, loss: Loss | None = None) -> np.ndarray:
    """``||dLoss/dh_t||`` for every step t, shape (T,): the norm over the batch and the units.

    Arguments as :func:`hidden_grads`. With the default loss (the last step's output summed),
    ``result[-1]`` is ``sqrt(B * P)`` and the earlier entries show how fast it fades.
    """
    g = hidden_grads(layer, x, hx, loss)
    return np.sqrt(np.einsum("tbp,tbp->t", g, g, dtype=np.float64))
