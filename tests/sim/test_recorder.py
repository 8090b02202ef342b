"""The recorder's concentration measures and its optional pandas hand-off."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from sim import load_run, run
from sim.errors import RexsimError
from sim.recorder import Table, concentration
from tests.sim.small import END, small_scenario


def test_concentration_of_known_shares():
    c = concentration([50, 30, 20, 0])
    assert c["hhi"] == 50 * 50 + 30 * 30 + 20 * 20
    assert (c["top1_pct"], c["top5_pct"], c["top10_pct"]) == (50.0, 100.0, 100.0)
    c = concentration([40, 20, 10, 10, 10, 5, 5])
    assert (c["top4_pct"], c["top5_pct"]) == (80.0, 90.0)


def test_concentration_of_nothing_is_zero():
    assert concentration([]) == {"hhi": 0.0, "top1_pct": 0.0, "top4_pct": 0.0, "top5_pct": 0.0,
                                 "top10_pct": 0.0}


def test_monopoly_has_the_maximum_hhi():
    assert concentration([7])["hhi"] == 10_000


def test_table_columns_and_dicts():
    t = Table(("a", "b"), [(1, None), (2, "x")])
    assert t.column("a") == [1, 2]
    with pytest.raises(KeyError, match="no column 'c'; the table has a, b"):
        t.column("c")
    assert t.as_dicts() == [{"a": 1, "b": None}, {"a": 2, "b": "x"}]


def test_to_pandas_without_pandas_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    res = run(small_scenario(), seed=2, until=END.replace(day=4))
    with pytest.raises(RexsimError, match="needs pandas"):
        res.to_pandas()


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pandas not installed")
def test_to_pandas_of_results_gives_the_written_runs_frames(tmp_path):
    res = run(small_scenario(), seed=2, until=END.replace(day=4))
    frames = res.to_pandas()  # before the run is written anywhere
    assert set(frames) == {"daily", "trades", "quotes", "enterprises", "off_exchange"}
    res.write(tmp_path / "r")
    written = load_run(tmp_path / "r").to_pandas()
    for name, frame in written.items():
        assert frame.equals(frames[name]), name
    assert str(frames["trades"]["time"].dt.tz) == "Asia/Shanghai"
    assert res.to_pandas("trades").equals(written["trades"])  # and after it is written


def test_row_templates_write_what_csv_writer_writes(tmp_path, monkeypatch):
    """The streamed tables' row templates write csv.writer's bytes: a small run both ways.

    (csv.writer is the fallback for product codes that would need quoting.)
    """
    import sim.recorder
    from sim.runner import run
    from tests.sim.small import small_scenario

    assert sim.recorder._csv_plain("PRND_OX") and sim.recorder._csv_plain("")
    assert not sim.recorder._csv_plain("A,B") and not sim.recorder._csv_plain('A"B')
    run(small_scenario(), seed=3, out=tmp_path / "template")
    monkeypatch.setattr(sim.recorder, "_csv_plain", lambda text: False)
    run(small_scenario(), seed=3, out=tmp_path / "writer")
    for name in ("trades.csv", "quotes.csv", "off_exchange.csv"):
        template = (tmp_path / "template" / name).read_bytes()
        assert template.count(b"\n") > 10
        assert template == (tmp_path / "writer" / name).read_bytes(), name
    assert b",," in (tmp_path / "template" / "quotes.csv").read_bytes()  # an empty side
