"""``nn.Conv1d``: a temporal convolution, the usual companion of recurrent layers."""

from __future__ import annotations

import math
from typing import Any

from ..tensor import Tensor
from . import functional as F
from . import init
from .layers import RNG, _dtype_note, _float_dtype, _positive, _same_float_dtype
from .module import Module, Parameter

__all__ = ["Conv1d"]


class Conv1d(Module):
    """1-D convolution: ``(N, C_in, L) -> (N, C_out, L_out)`` (or unbatched ``(C_in, L)``), see
    :func:`minigrad.nn.functional.conv1d` for the formula and ``L_out``.

    ``weight`` has shape ``(out_channels, in_channels / groups, kernel_size)`` and ``bias``
    ``(out_channels,)``, both drawn from U(-k, k) with ``k = 1 / sqrt(in_channels / groups *
    kernel_size)``, as PyTorch initialises them.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: Any = 0, dilation: int = 1, groups: int = 1, bias: bool = True, *,
                 dtype: Any = None, rng: RNG = None) -> None:
        super().__init__()
        self.in_channels = _positive(in_channels, "in_channels", "Conv1d")
        self.out_channels = _positive(out_channels, "out_channels", "Conv1d")
        self.kernel_size = _positive(kernel_size, "kernel_size", "Conv1d")
        self.stride = _positive(stride, "stride", "Conv1d")
        self.dilation = _positive(dilation, "dilation", "Conv1d")
        self.groups = _positive(groups, "groups", "Conv1d")
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"Conv1d: in_channels={in_channels} and out_channels="
                             f"{out_channels} must both be divisible by groups={groups}")
        if not (padding in ("valid", "same") or (isinstance(padding, int)
                                                  and not isinstance(padding, bool)
                                                  and padding >= 0)):
            raise ValueError(f"Conv1d: padding must be an int >= 0, 'valid' or 'same', got "
                             f"{padding!r}")
        if padding == "same" and self.stride != 1:
            raise ValueError("Conv1d: padding='same' needs stride 1")
        self.padding = padding
        dt = _float_dtype("float32" if dtype is None else dtype, "Conv1d")
        gen = init.get_rng(rng)
        fan_in = self.in_channels // self.groups * self.kernel_size
        k = 1.0 / math.sqrt(fan_in)
        shape = (self.out_channels, self.in_channels // self.groups, self.kernel_size)
        self.weight = Parameter(gen.uniform(-k, k, shape).astype(dt))
        self.bias: Parameter | None = None
        if bias:
            self.bias = Parameter(gen.uniform(-k, k, self.out_channels).astype(dt))

    def forward(self, x: Any) -> Tensor:
        x = _same_float_dtype(x, self.weight, "Conv1d")
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self) -> str:
        extra = "".join(f", {name}={getattr(self, name)!r}" for name, default in
                        (("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1))
                        if getattr(self, name) != default)
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
                f"{extra}, bias={self.bias is not None}{_dtype_note(self.weight)}")
