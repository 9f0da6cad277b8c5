"""Shared test configuration: Hypothesis profiles.

The ``ci`` profile (the default) is deterministic: a fixed seed (``derandomize=True``) and no
deadline, because Numba compiles a kernel on its first call. ``HYPOTHESIS_PROFILE=dev`` explores
with fresh random seeds and more examples.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
