"""Small in-place helpers shared by the optimizers."""

from __future__ import annotations

import numpy as np

__all__ = ["lerp_"]


def lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start <- start + weight * (end - start)``, in place.

    Evaluated the way PyTorch's ``lerp`` is (``end - (end - start) * (1 - weight)`` when
    ``|weight| >= 0.5``), so results agree with ``torch.optim`` to the last bit more often.
    """
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        np.subtract(end, (end - start) * (1 - weight), out=start)
