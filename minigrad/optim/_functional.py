"""Small in-place helpers shared by the optimizers, the modules and the initialisers.

:func:`write_` is the one place where minigrad's own code writes new values into a parameter or
buffer: through the tensor's in-place ``copy_`` under ``no_grad`` when it has one (so the tensor's
version counter moves and a graph that saved the old values refuses to backpropagate through
them), else straight into the ``.data`` array of a parameter-like object.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["lerp_", "write_"]


def write_(param: Any, value: np.ndarray) -> None:
    """Write ``value`` (same shape; cast to the parameter's dtype) into ``param`` in place."""
    copy_ = getattr(param, "copy_", None)
    if copy_ is not None and hasattr(param, "_version"):
        from ..tape import no_grad

        with no_grad():
            copy_(value)
    else:
        np.copyto(param.data, value, casting="unsafe")


def lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start <- start + weight * (end - start)``, in place.

    Evaluated the way PyTorch's ``lerp`` is (``end - (end - start) * (1 - weight)`` when
    ``|weight| >= 0.5``), so results agree with ``torch.optim`` to the last bit more often.
    """
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        np.subtract(end, (end - start) * (1 - weight), out=start)
