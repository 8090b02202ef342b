"""The sweep benchmark's own test: a tiny run of `python -m benchmarks sweep` must work.

The throughput figures themselves are `python -m benchmarks sweep` (see cmd_sweep.py); this
only checks that the command runs, compares every contender's tables and reports the ratio.
"""

from __future__ import annotations

import json

from benchmarks.__main__ import main


def test_the_sweep_benchmark_runs_and_finds_the_same_tables(tmp_path, capsys) -> None:
    out = tmp_path / "bench.json"
    assert main(["sweep", "--runs", "2", "--repeat", "1", "--until", "2024-01-04",
                 "--no-dask", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 workers" in text and "vs 1 worker" in text
    doc = json.loads(out.read_text())
    assert [c["contender"] for c in doc["contenders"]] == ["1 worker", "2 workers"]
    assert all(c["same_tables"] and c["runs_per_minute"] > 0 for c in doc["contenders"])
