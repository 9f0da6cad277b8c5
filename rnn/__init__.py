"""Recurrent networks on the minigrad engine: cells, sequence layers, and PyTorch-compatible
RNN / LSTM / GRU layers with a readable reference path and a fused Numba path.

    >>> import numpy as np, rnn
    >>> lstm = rnn.LSTM(input_size=8, hidden_size=16, num_layers=2, bidirectional=True)
    >>> x = np.zeros((5, 3, 8), dtype=np.float32)              # (T, B, I)
    >>> output, (h_n, c_n) = lstm(x)
    >>> output.shape, h_n.shape                                # (T, B, D*H), (L*D, B, H)
    ((5, 3, 32), (4, 3, 16))

A bidirectional layer merges its two directions by ``merge_mode``: "concat" (the default, as in
PyTorch: output (T, B, 2H)), or "sum", "mean", "mul" (output (T, B, H); the next layer then
reads width H).

Shape legend: T time steps, B batch, I input size, H hidden size, D = 2 if bidirectional else 1,
L number of layers.
"""

from .cells import GRUCell, LSTMCell, RNNCell, State
from .layers import (
    GRU,
    LSTM,
    MERGE_MODES,
    RNN,
    Bidirectional,
    Recurrent,
    Stacked,
    fused_available,
    merge_directions,
    run_cell,
    run_stack,
)

__all__ = [
    "RNNCell", "LSTMCell", "GRUCell", "State",
    "Recurrent", "Bidirectional", "Stacked", "run_cell", "run_stack", "merge_directions",
    "MERGE_MODES",
    "RNN", "LSTM", "GRU", "fused_available",
]
