"""minigrad: a small, readable tape-based reverse-mode autograd engine on numpy.

    >>> import minigrad as mg
    >>> x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""

from . import data, nn, ops, optim
from . import inspect as inspect
from .anomaly import AnomalyError, detect_anomaly
from .autograd import grad
from .checkpoint import CheckpointError, load, save
from .dtypes import bool, double, float16, float32, float64, int8, int16, int32, int64, long, uint8
from .inspect import Tape
from .nn.init import manual_seed
from .ops import *  # noqa: F403
from .primitive import Primitive
from .primitive import set_namespaces as _set_namespaces
from .primitives import array_ops as _array_ops
from .tape import Entry, current_tape, enable_grad, is_grad_enabled, no_grad
from .tensor import DEFAULT_FLOAT, Tensor, tensor
from .threads import get_num_threads, set_num_threads

# isort: split
_set_namespaces(_array_ops, ops)  # the xp of plain and recorded rules (minigrad.primitive)

from . import func  # noqa: E402  (the transforms build on everything above)

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "grad", "no_grad", "enable_grad", "is_grad_enabled", "Tape", "Entry",
    "current_tape", "Primitive", "DEFAULT_FLOAT", "ops", *ops.__all__,
    "detect_anomaly", "AnomalyError", "save", "load", "CheckpointError", "manual_seed", "data",
    "nn", "optim", "func", "get_num_threads", "set_num_threads", "float32", "float64",
    "float16", "int64", "int32", "int16", "int8", "uint8", "bool", "double", "long",
]
