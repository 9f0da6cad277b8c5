"""Fused whole-sequence recurrent kernels on raw numpy arrays (forward and hand-written BPTT).

Each module holds one cell type's kernels; the autograd layers wrap them as single primitives
(:mod:`rnn.fused_ops`).
"""

from .elman import RNNCache, rnn_backward, rnn_forward
from .gru import GRUCache, gru_backward, gru_forward
from .lstm import LSTMCache, lstm_backward, lstm_forward

__all__ = ["LSTMCache", "lstm_backward", "lstm_forward", "GRUCache", "gru_backward", "gru_forward",
           "RNNCache", "rnn_backward", "rnn_forward"]
