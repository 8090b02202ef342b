"""Shared test settings: the hypothesis profiles, chosen by the HYPOTHESIS_PROFILE env var.

- "ci" (default): derandomized and without the example database, so every run explores the
  same examples and a failure reproduces anywhere; example counts sized to keep the default
  run fast.
- "dev": random exploration with the same budget, for local bug hunting.
- "thorough": five times the examples, for long runs (a few minutes for the book suite):
  `HYPOTHESIS_PROFILE=thorough .venv/bin/pytest tests -m "slow or not slow"`.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

COMMON = {"deadline": None, "print_blob": True, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", derandomize=True, database=None, max_examples=100, **COMMON)
settings.register_profile("dev", max_examples=100, **COMMON)
settings.register_profile("thorough", max_examples=500, **COMMON)
PROFILES = ("ci", "dev", "thorough")



def pytest_configure(config: pytest.Config) -> None:
    """Load the profile named by HYPOTHESIS_PROFILE before any test module is collected."""
    profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    if profile not in PROFILES:
        raise pytest.UsageError(
            f"HYPOTHESIS_PROFILE={profile!r} is not one of {', '.join(PROFILES)}")
    settings.load_profile(profile)
