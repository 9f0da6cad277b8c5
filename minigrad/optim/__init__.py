"""Optimizers and learning-rate schedules with the same update rules as ``torch.optim``.

A parameter is any object with a floating-point ndarray ``.data`` (updated in place) and a
``.grad`` that is ``None`` (the parameter is skipped) or holds the gradient (a minigrad
``Tensor`` or an ndarray)::

    from minigrad.optim import Adam
    from minigrad.optim.lr_scheduler import CosineAnnealingLR

    opt = Adam(model.parameters(), lr=1e-3)
    sched = CosineAnnealingLR(opt, T_max=epochs)
    for epoch in range(epochs):
        for batch in data:
            opt.zero_grad()
            loss(batch).backward()
            opt.step()
        sched.step()

``opt.state_dict()`` and ``sched.state_dict()`` are plain nested dicts of arrays and numbers that
:func:`minigrad.checkpoint.save` can store.
"""

from minigrad.optim import lr_scheduler
from minigrad.optim.adagrad import Adagrad
from minigrad.optim.adam import Adam, AdamW
from minigrad.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LRScheduler,
    OneCycleLR,
    ReduceLROnPlateau,
    StepLR,
)
from minigrad.optim.optimizer import Optimizer, ParamLike
from minigrad.optim.rmsprop import RMSprop
from minigrad.optim.sgd import SGD

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "OneCycleLR",
    "Optimizer",
    "ParamLike",
    "RMSprop",
    "ReduceLROnPlateau",
    "StepLR",
    "lr_scheduler",
]
