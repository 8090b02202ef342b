"""Reading run directories back: exact round trips, streaming, pandas types, one-line errors."""

from __future__ import annotations

import datetime as dt
import json
import sys

import pytest

from sim import RunFileError, load_run, run
from sim.runs import ExtraMissing, Run, Sweep
from tests.sim import runfixture
from tests.sim.small import small_scenario


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A real small run: its results in memory and its directory."""
    out = tmp_path_factory.mktemp("small")
    return run(small_scenario(), seed=2, out=out), out


@pytest.fixture()
def tiny(tmp_path):
    return runfixture.write_run(tmp_path / "tiny")


def test_every_table_of_a_real_run_reads_back_exactly_as_the_recorder_made_it(small):
    res, out = small
    r = load_run(out)
    assert isinstance(r, Run) and r.summary == json.loads((out / "summary.json").read_text())
    for name in ("trades", "daily", "enterprises"):
        assert r.table(name).columns == getattr(res, name).columns
        assert r.table(name).rows == getattr(res, name).rows, name


def test_every_table_of_the_full_format_round_trips_with_ints_and_none(tiny):
    r = load_run(tiny)
    for name, rows in runfixture.ROWS.items():
        assert r.table(name).columns == runfixture.columns(name)
        assert r.table(name).rows == rows, name
    no_trades_day = r.daily.rows[4]
    assert no_trades_day[2] is None and type(no_trades_day[7]) is int  # open empty, settled


def test_rows_streams_the_chosen_columns_in_the_order_asked(tiny):
    r = load_run(tiny)
    got = list(r.rows("trades", ["kind", "price"]))
    assert got[0] == ("call_auction", 400_000) and len(got) == 8
    assert "trades" not in r._tables  # streamed, not loaded whole


def test_one_column_name_is_refused_not_read_as_a_list_of_its_letters(tiny):
    with pytest.raises(TypeError, match="expected a list of column names, got the string"):
        next(load_run(tiny).rows("trades", "price"))
    assert next(load_run(tiny).rows("trades", ["price"])) == (next(load_run(tiny).rows(
        "trades"))[load_run(tiny).columns("trades").index("price")],)


def test_a_column_it_lacks_is_named_with_the_columns_it_has(tiny):
    with pytest.raises(RunFileError, match=r"no column 'prices'; it has time, date, "):
        next(load_run(tiny).rows("trades", ["prices"]))


def test_a_summary_json_path_or_a_passed_summary_loads_the_same_run(tiny):
    assert load_run(tiny / "summary.json").path == tiny
    (tiny / "summary.json").unlink()  # the runner analyses its staged files before this
    r = load_run(tiny, summary=runfixture.SUMMARY)
    assert r.summary["trades"] == 8 and len(r.trades) == 8


def test_to_pandas_gives_dates_local_times_categories_and_converted_units(tiny):
    pd = pytest.importorskip("pandas")
    f = load_run(tiny).to_pandas()
    assert set(f) == set(runfixture.ROWS)
    t = f["trades"]
    first = t["time"].iloc[0]
    assert str(first.tz) in ("Asia/Shanghai", "UTC+08:00")
    assert (first.hour, first.minute) == (9, 0) and first.value == runfixture.TRADES[0][0]
    assert t["date"].dtype.kind == "M" and t["date"].iloc[0] == pd.Timestamp("2024-01-31")
    assert list(t["product"].cat.categories) == ["PRND_OX", "LA_OX"]
    assert list(t["kind"].cat.categories)[:2] == ["continuous", "call_auction"]
    assert t["qty_kg"].dtype == "int64" and list(t.columns).index("qty_t") == \
        list(t.columns).index("qty_kg") + 1
    assert t["qty_t"].iloc[7] == 10.0 and t["value_yuan"].iloc[3] == 2_050_000.0
    assert t["price_yuan_t"].iloc[0] == 400_000.0
    d = f["daily"]
    assert str(d["open"].dtype) == "Int64" and d["open"].isna().sum() == 2
    assert d["open"].iloc[0] == 400_000  # exact, beside open_yuan_t
    e = f["enterprises"]
    assert e["online_from"].isna().sum() == 2 and e["role"].dtype == "category"
    assert list(e["province"].cat.categories) == ["Inner Mongolia", "Jiangxi"]
    q = f["quotes"]
    assert q["ask"].isna().sum() == 2 and "bid_qty_t" in q
    assert f["off_exchange"]["side"].dtype == "category"


def test_without_pandas_to_pandas_says_how_to_install_it(tiny, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    with pytest.raises(ExtraMissing, match=r"pip install 'rexsim\[pandas\]'") as info:
        load_run(tiny).to_pandas("trades")
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ImportError)


def test_an_older_run_has_no_quotes_and_says_so_when_asked(tiny):
    (tiny / "quotes.csv").unlink()
    r = load_run(tiny)
    assert not r.has("quotes")
    with pytest.raises(RunFileError, match="no quotes.csv"):
        _ = r.quotes


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "summary.json").unlink(), "not a run directory"),
    (lambda d: (d / "trades.csv").unlink(), "no trades.csv"),
    (lambda d: (d / "daily.csv").write_text("a,b\n1,2\n"), "not a rexsim daily table"),
    (lambda d: (d / "summary.json").write_text("{}"), "not a rexsim summary.json"),
])
def test_a_directory_that_is_not_a_run_is_one_line(tiny, damage, message):
    damage(tiny)
    with pytest.raises(RunFileError, match=message) as info:
        load_run(tiny)
    assert "\n" not in str(info.value)


def test_a_bad_cell_names_its_line_and_column(tiny):
    text = (tiny / "trades.csv").read_text().replace(",402000,", ",4o2000,")
    (tiny / "trades.csv").write_text(text)
    with pytest.raises(RunFileError, match=r"line 3, column price: expected an integer, "
                                           r"got '4o2000'"):
        _ = load_run(tiny).trades
    (tiny / "trades.csv").write_text(text.splitlines()[0] + "\n1,2\n")
    with pytest.raises(RunFileError, match="line 2 has 2 cells, the header 13"):
        list(load_run(tiny).rows("trades"))


def test_a_missing_path_is_one_line(tmp_path):
    with pytest.raises(RunFileError, match="no such directory"):
        load_run(tmp_path / "nowhere")


def test_a_sweep_directory_gives_its_table_of_runs_and_each_run(tmp_path):
    runfixture.write_run(tmp_path / "seed-1")
    runfixture.write_run(tmp_path / "seed-2")
    (tmp_path / "sweep.csv").write_text(
        "run,seed,tonnage_kg,online_share_pct\nseed-1,1,29000,51.7\nseed-2,2,30000,\n")
    s = load_run(tmp_path)
    assert isinstance(s, Sweep) and len(s) == 2
    assert s.table.rows == [("seed-1", 1, 29_000, 51.7), ("seed-2", 2, 30_000, None)]
    assert s.run(1).path == tmp_path / "seed-2" and s.run("seed-1").summary["trades"] == 8
    assert [r.path.name for r in s] == ["seed-1", "seed-2"]
    with pytest.raises(RunFileError, match="no run 'seed-9'"):
        s.run("seed-9")
    with pytest.raises(RunFileError, match="no run 5 in this sweep of 2 runs"):
        s.run(5)
    with pytest.raises(TypeError, match="expected a row number or a run's name, got bool"):
        s.run(True)
    pytest.importorskip("pandas")
    df = s.to_pandas()
    assert list(df["tonnage_t"]) == [29.0, 30.0] and df["tonnage_kg"].dtype == "int64"


def test_an_older_sweep_json_still_loads_as_a_table_of_runs(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({
        "seeds": [1, 2], "metrics": [{"metric": "tonnage (t)", "values": [5, 6]}]}))
    s = load_run(tmp_path)
    assert s.runs == ["seed-1", "seed-2"]
    assert s.table.rows == [("seed-1", 1, 5), ("seed-2", 2, 6)]


def test_the_local_zone_is_the_scenarios_offset(tiny):
    from sim.runs import local_zone

    assert local_zone(8).utcoffset(dt.datetime(2024, 7, 1)) == dt.timedelta(hours=8)
    assert local_zone(3).utcoffset(None) == dt.timedelta(hours=3)


# ----------------------------------------------------------------------------- whole runs

def _current(out):
    """The tiny run as rexsim 0.2.0 writes it: held whole to what its summary records."""
    runfixture.write_run(out)
    summary = json.loads((out / "summary.json").read_text())
    (out / "summary.json").write_text(json.dumps({**summary, "rexsim_version": "0.2.0"}))
    return out


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("field, value, message", [
    ("tonnage_kg", "abc", 'tonnage_kg: expected int, got "abc"'),
    ("trades", 8.0, "trades: expected int, got 8.0"),
    ("by_product", {"PRND_OX": {"value_fen": None}},
     "by_product.PRND_OX.value_fen: expected int, got null"),
    ("concentration", {"sell_value": {"hhi": "high"}},
     'concentration.sell_value.hhi: expected float | null, got "high"'),
])
def test_a_summary_field_of_the_wrong_type_is_one_line_naming_the_file_and_field(
        tiny, field, value, message):
    summary = json.loads((tiny / "summary.json").read_text())
    (tiny / "summary.json").write_text(json.dumps({**summary, field: value}))
    with pytest.raises(RunFileError) as info:
        load_run(tiny)
    assert str(info.value) == f"{tiny / 'summary.json'}: {message}"


def test_a_summary_of_an_older_rexsim_without_newer_fields_still_loads(tiny):
    summary = json.loads((tiny / "summary.json").read_text())
    for key in ("rexsim_version", "by_channel", "concentration", "resolved_scenario"):
        del summary[key]
    (tiny / "summary.json").write_text(json.dumps(summary))
    assert load_run(tiny).products == ["PRND_OX", "LA_OX"]


def test_a_date_that_is_no_day_names_its_line_and_column(tiny):
    _edit(tiny / "trades.csv", ",2024-02-01,", ",2024-13-45,")  # the 6th trade: line 7
    message = r"trades.csv: line 7, column date: expected a date \(YYYY-MM-DD\), got " \
              r"'2024-13-45'"
    with pytest.raises(RunFileError, match=message):
        _ = load_run(tiny).trades
    pytest.importorskip("pandas")
    with pytest.raises(RunFileError, match=message):
        load_run(tiny).to_pandas("trades")


def test_a_current_run_reads_whole_when_its_tables_agree_with_its_summary(tmp_path):
    r = load_run(_current(tmp_path / "run"))
    assert r.whole and len(r.trades) == 8 and len(r.daily) == 6 and len(r.enterprises) == 5


def _cut_rows(path, keep):
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:1 + keep]))


@pytest.mark.parametrize("damage, message", [
    (lambda d: _cut_rows(d / "trades.csv", 5),
     r"trades.csv: 5 rows, but the run's summary records 8 \(trades\)"),
    (lambda d: _cut_rows(d / "daily.csv", 4),
     r"daily.csv: 4 rows, but the run's summary records 6 \(3 trading days x 2 products\)"),
    (lambda d: _cut_rows(d / "enterprises.csv", 4),
     r"enterprises.csv: 4 rows, but the run's summary records 5 \(members\)"),
    (lambda d: _edit(d / "trades.csv", ",5000,2000000,", ",6000,2000000,"),
     r"trades.csv: its qty_kg add up to 30,000, but the run's summary records tonnage_kg "
     r"29,000"),
    (lambda d: _edit(d / "daily.csv", ",4,2000,7000,", ",3,2000,7000,"),
     r"daily.csv: its trades add up to 7, but the run's summary records trades 8"),
])
def test_a_current_run_short_of_rows_or_not_adding_up_is_refused_when_read(
        tmp_path, damage, message):
    out = _current(tmp_path / "run")
    damage(out)
    with pytest.raises(RunFileError, match=message) as info:
        for name in ("trades", "daily", "enterprises"):
            _ = load_run(out).table(name)
    assert "\n" not in str(info.value)
    pytest.importorskip("pandas")
    with pytest.raises(RunFileError, match=message):
        load_run(out).to_pandas()


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "quotes.csv").unlink(), r"no quotes.csv, which rexsim 0.2.0 writes"),
    (lambda d: (d / "off_exchange.csv").unlink(), r"no off_exchange.csv, which rexsim 0.2.0"),
    (lambda d: (d / "trades.csv").write_text((d / "trades.csv").read_text()[:-3]),
     r"trades.csv: its last row is cut off \(no line end\)"),
    (lambda d: (d / "daily.csv").write_text((d / "daily.csv").read_text()[:-1]),
     r"daily.csv: its last row is cut off"),
])
def test_a_current_run_missing_a_table_or_cut_mid_row_is_refused_when_loaded(
        tmp_path, damage, message):
    out = _current(tmp_path / "run")
    damage(out)
    with pytest.raises(RunFileError, match=message) as info:
        load_run(out)
    assert "\n" not in str(info.value)


def test_an_older_run_is_read_as_far_as_its_files_go(tiny):
    _cut_rows(tiny / "trades.csv", 5)  # rexsim 0.1.0: no summary to hold the tables to
    (tiny / "off_exchange.csv").unlink()
    assert len(load_run(tiny).trades) == 5


def test_a_sweep_table_short_of_the_runs_its_manifest_records_is_refused(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({"rexsim_sweep": 1, "runs": 2}))
    (tmp_path / "sweep.csv").write_text("run,seed,tonnage_kg\nseed-1,1,29000\n")
    with pytest.raises(RunFileError, match=r"sweep.csv: holds 1 of the 2 runs its sweep.json "
                                           r"records: the sweep's table is incomplete"):
        load_run(tmp_path)
    (tmp_path / "sweep.csv").write_text("run,seed,tonnage_kg\nseed-1,1,29000\nseed-2,2,30")
    with pytest.raises(RunFileError, match="its last row is cut off"):
        load_run(tmp_path)


def test_a_run_records_every_tables_rows_and_one_cut_at_a_row_boundary_is_refused(small,
                                                                                  tmp_path):
    """A row count is what finds quotes.csv or off_exchange.csv cut after a whole row.

    Neither has a summary total to add up to, as trades.csv and daily.csv have.
    """
    import shutil

    res, out = small
    counts = res.summary["table_rows"]
    r = load_run(out)
    assert counts == {name: len(r.table(name)) for name in
                      ("trades", "daily", "enterprises", "quotes", "off_exchange")}
    assert min(counts.values()) > 0
    for name in ("quotes", "off_exchange"):
        copy = shutil.copytree(out, tmp_path / name)
        _cut_rows(copy / f"{name}.csv", counts[name] - 1)
        message = (rf"{name}.csv: {counts[name] - 1:,} rows, but the run's summary records "
                   rf"{counts[name]:,} \({name} rows written\)")
        with pytest.raises(RunFileError, match=message):
            load_run(copy).table(name)
