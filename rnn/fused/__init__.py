"""Fused whole-sequence recurrent kernels on raw numpy arrays (forward and hand-written BPTT).

Each module holds one cell type's kernels; the autograd layers wrap them as single primitives.
"""

from .lstm import lstm_backward, lstm_forward

__all__ = ["lstm_backward", "lstm_forward"]
