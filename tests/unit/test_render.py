"""The offline renderer's own arithmetic: percentiles and dashboard expressions (the emulator does neither)."""

from __future__ import annotations

import math

import pytest

from mwaa_obs.stats import percentile
from mwaa_obs_tools.render import _evaluate


def test_percentiles_are_nearest_rank() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 50) == 50
    assert percentile(samples, 90) == 90
    assert percentile([7.0], 90) == 7
    assert math.isnan(percentile([], 50))


def test_expressions_compute_the_success_rate_and_survive_empty_periods() -> None:
    expression = "100 * ok / (ok + failed + timedout)"
    assert _evaluate(expression, {"ok": 3, "failed": 1, "timedout": 0}) == 75
    assert math.isnan(_evaluate(expression, {"ok": 0, "failed": 0, "timedout": 0}))


def test_expressions_run_no_code() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        _evaluate("__import__('os').system('true')", {})
