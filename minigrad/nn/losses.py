"""The loss primitives of :mod:`minigrad.nn.functional`, by their names there.

They live with every other primitive in :mod:`minigrad.primitives` (the registry the coverage
tests scan): ``cross_entropy`` fuses log-softmax and the negative log-likelihood, ``softplus``
gives ``binary_cross_entropy_with_logits`` its stable form. These are the raw primitives,
without argument checks: call them through :mod:`minigrad.nn.functional`.
"""

from __future__ import annotations

from ..primitives import cross_entropy as cross_entropy_primitive
from ..primitives import softplus as softplus_primitive
from ..primitives import stable_sigmoid

__all__ = ["cross_entropy_primitive", "softplus_primitive", "stable_sigmoid"]
