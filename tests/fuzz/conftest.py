"""Hypothesis profiles of the fuzz tests.

ci    (default) a fixed set of examples per test (derandomized): fast and repeatable in CI
long  many random examples, for a fuzzing session:  HYPOTHESIS_PROFILE=long pytest tests/fuzz
"""

import os

from hypothesis import HealthCheck, Phase, settings

# No shrinking in CI: a failure is reported with the example as found, without minutes of shrinking.
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long", max_examples=5000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
