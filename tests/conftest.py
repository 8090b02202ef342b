"""Shared test settings: the hypothesis profiles, chosen by the HYPOTHESIS_PROFILE env var.

- "ci" (default): derandomized, so every run explores the same examples and a failure
  reproduces anywhere; example counts sized to keep the default run fast.
- "dev": random exploration with the same budget, for local bug hunting.
- "thorough": many more examples, for `-m slow` runs and before a release.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
