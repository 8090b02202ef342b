"""pytest-benchmark case for the LOBSTER replay, and a smoke test of `python -m benchmarks lobster`.

The case replays the real GOOG level-10 day (147,916 messages) and reports, besides the time,
its messages per second in `extra_info`. It asserts what the timed work found, so it can never
time nothing. Run: `.venv/bin/pytest benchmarks/test_bench_lobster.py`; skipped when
../shared/data/lobster is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.__main__ import main
from benchmarks.cmd_lobster import DATA, sample_pair
from engine.lobster import replay

LEVEL = 10


@pytest.fixture
def goog10() -> tuple[str, str]:
    if not (DATA / f"LOBSTER_SampleFile_GOOG_2012-06-21_{LEVEL}.zip").is_file():
        pytest.skip(f"LOBSTER sample data not found in {DATA}")
    return sample_pair(LEVEL)


def test_replay_of_the_level_10_day(benchmark, goog10):
    report = benchmark.pedantic(replay, args=goog10, rounds=3, iterations=1, warmup_rounds=0)
    assert report.mismatch_rows == 0
    assert report.best_price_mismatch_rows == 0
    assert report.passed
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # absent under --benchmark-disable
        benchmark.extra_info["messages_per_second"] = round(report.rows / stats.stats.min)


def _write_day(tmp_path: Path) -> tuple[Path, Path]:
    """A three-message level-1 day: two adds and an execution of the queue head."""
    m = tmp_path / "message.csv"
    o = tmp_path / "orderbook.csv"
    m.write_text("34200.1,1,1,100,1000,1\n34200.2,1,2,50,1000,1\n34200.3,4,1,40,1000,1\n")
    o.write_text("1010,30,1000,100\n1010,30,1000,150\n1010,30,1000,110\n")
    return m, o


def test_lobster_command_times_a_given_day_and_exits_0_when_it_passes(tmp_path, capsys):
    m, o = _write_day(tmp_path)
    out = tmp_path / "bench.json"
    status = main(["lobster", "--message", str(m), "--orderbook", str(o), "--repeat", "1",
                   "--baseline-events", "0", "--json", str(out)])
    assert status == 0
    assert "msg/s" in capsys.readouterr().out
    assert '"rows": 3' in out.read_text()


def test_lobster_command_exits_2_on_a_missing_file(tmp_path, capsys):
    status = main(["lobster", "--message", str(tmp_path / "absent.csv"),
                   "--orderbook", str(tmp_path / "absent2.csv")])
    assert status == 2
    assert "no such file" in capsys.readouterr().out
