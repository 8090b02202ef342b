"""The recorder's concentration measures and its optional pandas hand-off."""

from __future__ import annotations

import importlib.util

import pytest

from sim.recorder import SimResults, Table, concentration


def test_concentration_of_known_shares():
    c = concentration([50, 30, 20, 0])
    assert c["hhi"] == 50 * 50 + 30 * 30 + 20 * 20
    assert (c["top1_pct"], c["top5_pct"], c["top10_pct"]) == (50.0, 100.0, 100.0)


def test_concentration_of_nothing_is_zero():
    assert concentration([]) == {"hhi": 0.0, "top1_pct": 0.0, "top5_pct": 0.0, "top10_pct": 0.0}


def test_monopoly_has_the_maximum_hhi():
    assert concentration([7])["hhi"] == 10_000


def test_table_columns_and_dicts():
    t = Table(("a", "b"), [(1, None), (2, "x")])
    assert t.column("a") == [1, 2]
    with pytest.raises(KeyError, match="no column 'c'; the table has a, b"):
        t.column("c")
    assert t.as_dicts() == [{"a": 1, "b": None}, {"a": 2, "b": "x"}]


def _results(tmp_path) -> SimResults:
    from sim.recorder import OFF_EXCHANGE_COLUMNS, QUOTE_COLUMNS, TRADE_COLUMNS

    for name, cols in (("trades.csv", TRADE_COLUMNS), ("quotes.csv", QUOTE_COLUMNS),
                       ("off_exchange.csv", OFF_EXCHANGE_COLUMNS)):
        Table(cols, []).write_csv(tmp_path / name)
    t = Table(("a",), [(1,)])
    return SimResults({"trades": 0}, t, t, tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("pandas") is not None, reason="pandas installed")
def test_to_pandas_without_pandas_says_so(tmp_path):
    with pytest.raises(ImportError, match="needs pandas"):
        _results(tmp_path).to_pandas()


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pandas not installed")
def test_to_pandas_gives_dataframes(tmp_path):
    frames = _results(tmp_path).to_pandas()
    assert set(frames) == {"daily", "trades", "quotes", "enterprises", "off_exchange"}
    assert list(frames["daily"]["a"]) == [1] and len(frames["trades"]) == 0


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
