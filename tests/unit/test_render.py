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


def test_fill_gives_a_point_where_an_operand_has_none() -> None:
    # The dashboards' success rate: counters EMF writes only when runs end leave periods without some operands.
    expression = "100 * FILL(ok, 0) / (FILL(ok, 0) + FILL(failed, 0) + FILL(timedout, 0))"
    assert _evaluate(expression, {"ok": 3, "failed": math.nan, "timedout": math.nan}) == 100
    assert _evaluate(expression, {"ok": math.nan, "failed": 2, "timedout": math.nan}) == 0
    assert math.isnan(_evaluate("100 * ok / (ok + failed)", {"ok": 3, "failed": math.nan}))


def test_expressions_run_no_code() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        _evaluate("__import__('os').system('true')", {})
