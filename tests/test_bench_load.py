"""bench/load.py stays runnable: its arguments, percentiles and report (no servers)."""

from __future__ import annotations

from bench.load import Result, arguments, percentile, summary, table


def test_the_short_form_is_bounded() -> None:
    args = arguments(["--short", "--duration", "60"])
    assert args.duration == 15
    assert args.history == 500


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([], 0.99) == 0


def test_the_report_counts_errors_into_the_rate() -> None:
    result = Result("submit", latencies_ms=[10.0, 20.0, 30.0], errors=1, seconds=2.0)
    row = summary(result)
    assert row["requests"] == 4
    assert row["rate"] == 2.0
    assert row["error_rate"] == 0.25
    assert "submit" in table([row])
