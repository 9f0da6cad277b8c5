"""Building blocks for models, as in ``torch.nn``.

    >>> import numpy as np
    >>> import minigrad as mg
    >>> from minigrad import nn
    >>> import minigrad.nn.functional as F
    >>> nn.manual_seed(0)
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    >>> loss = F.cross_entropy(model(mg.tensor(np.ones((2, 4)), dtype=np.float32)), [0, 2])
    >>> loss.backward()
    >>> model[0].weight.grad.shape
    (8, 4)

``functional`` holds the stateless layers and the losses, ``init`` the initialisers and the random
generator layers draw from (reseeded by :func:`manual_seed`), ``utils`` gradient clipping.
"""

from . import functional, init, utils
from .activation import ELU, GELU, LeakyReLU, LogSoftmax, SiLU, Softmax, Softplus
from .conv import Conv1d
from .init import manual_seed
from .layers import (
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from .module import Module, Parameter
from .utils import clip_grad_norm_, clip_grad_value_

__all__ = [
    "Module", "Parameter", "Linear", "Embedding", "Dropout", "LayerNorm", "Flatten", "Identity",
    "ReLU", "Tanh", "Sigmoid", "Sequential", "functional", "init", "utils", "manual_seed",
    "clip_grad_norm_", "clip_grad_value_", "Conv1d", "GELU", "SiLU", "LeakyReLU", "ELU",
    "Softplus", "Softmax", "LogSoftmax",
]
