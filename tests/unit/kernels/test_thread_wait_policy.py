"""numba's OpenMP threads wait passively between quantdb's parallel kernels (quantdb.kernels).

Spinning threads burned a core between the many small parallel calls of a sweep's best sets
or the demo's backtests (0.87 s of CPU over 0.75 s of 300 small summary calls, measured),
while quantdb's own threads and helper processes wanted that core. The policy is read when
OpenMP loads, so the checks run in fresh interpreters.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_PROBE = (
    "import os, numpy as np\n"
    "from quantdb.kernels.summary import summary_metrics\n"
    "summary_metrics(np.zeros((10, 40)))\n"  # a parallel launch: OpenMP is loaded by now
    "print(os.environ.get('OMP_WAIT_POLICY'))\n"
)


def _policy(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_passive_unless_the_environment_says_otherwise() -> None:
    assert _policy(None) == "PASSIVE"


@pytest.mark.parametrize("given", ["ACTIVE", "passive"])
def test_a_users_own_setting_is_kept(given: str) -> None:
    assert _policy(given) == given
