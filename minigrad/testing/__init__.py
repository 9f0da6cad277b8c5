"""Test your own functions the way minigrad tests its ops.

    from hypothesis import given
    from minigrad.testing import gradcheck, strategies as mgst

    @given(mgst.arrays(mgst.shapes(), domain="positive"))
    def test_my_fn(x):
        assert gradcheck(lambda t: (t.log() * t).sum(), [x], order=2)

gradcheck checks forward and reverse mode (``modes=("fwd", "rev")``, the default) against finite
differences and against each other.
"""

from . import strategies
from .gradcheck import TOLERANCES, GradcheckError, gradcheck

__all__ = ["gradcheck", "GradcheckError", "TOLERANCES", "strategies"]
