"""The run report: one self-contained HTML page, every chart in it and beside it as a PNG.

The browser test renders the page in headless Chromium (Debian's `chromium`, which CI
installs) and checks that every chart is there with a visible, non-empty size.
"""

from __future__ import annotations

import base64
import errno
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim import load_run, rundir
from sim.cli import main
from sim.errors import OutputError
from tests.sim import runfixture

pytest.importorskip("matplotlib", reason="the report needs matplotlib (rexsim[report])")

from sim.report import CHARTS, write_report  # noqa: E402  (after the skip above)

ALL_CHARTS = [c.name for c in CHARTS]


@pytest.fixture()
def tiny(tmp_path):
    return runfixture.write_run(tmp_path / "tiny")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The tiny run's report, written once for the tests that only read it."""
    out = runfixture.write_run(tmp_path_factory.mktemp("r") / "tiny")
    base = runfixture.write_run(tmp_path_factory.mktemp("b") / "base")
    summary = json.loads((base / "summary.json").read_text())
    summary["resolved_scenario"]["behaviour"]["volume_factor"] = 0.5
    summary["tonnage_kg"] = 20_000
    (base / "summary.json").write_text(json.dumps(summary))
    written = write_report(load_run(out), against=load_run(base))
    return out, written


def test_the_report_and_one_png_per_chart_go_into_the_run_directory(report):
    out, written = report
    assert written == [out / "report.html"] + [out / f"report-{n}.png" for n in ALL_CHARTS]
    for png in written[1:]:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, png.name
    assert rundir.foreign_entries(out) == []  # derived files: a rerun may replace the run


def test_every_chart_is_embedded_and_nothing_is_fetched(report):
    out, written = report
    page = (out / "report.html").read_text("utf-8")
    for png in written[1:]:
        assert base64.b64encode(png.read_bytes()).decode() in page, png.name
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in page and "https://" not in page


def test_tables_a_person_reads_are_html_tables(report):
    page = (report[0] / "report.html").read_text("utf-8")
    assert re.search(r"<td>tonnage traded</td><td>t</td><td class=\"num\">29\.0</td>", page)
    assert "<td>PRND_OX</td>" in page and "mean |deviation| (bp)" in page


def test_who_sells_to_whom_is_a_table_of_tonnage_shares_by_role(report):
    page = (report[0] / "report.html").read_text("utf-8")
    section = page.split("<h2>Who sells to whom</h2>", 1)[1].split("<h2>", 1)[0]
    # the hand-made run: separators sell 22 t to magnet makers and 7 t to a trader
    assert '<th class="num">separator</th>' in section
    assert '<td>magnet maker</td><td class="num">75.9</td>' in section
    assert '<td>trader</td><td class="num">24.1</td>' in section


def test_against_a_base_run_lists_what_differs_and_every_headline_change(report):
    page = (report[0] / "report.html").read_text("utf-8")
    assert "<code>behaviour.volume_factor: 0.5 -&gt; 0.888</code>" in page
    assert re.search(r"<td>tonnage traded</td><td>t</td><td class=\"num\">20\.0</td>"
                     r"<td class=\"num\">29\.0</td><td class=\"num\">\+9\.0</td>"
                     r"<td class=\"num\">\+45\.0%</td>", page)


def _only(monkeypatch, *names):
    """Draw only these charts (each full report costs about a second of rendering)."""
    import sim.report

    monkeypatch.setattr(sim.report, "CHARTS", tuple(c for c in CHARTS if c.name in names))


def test_a_chart_without_data_is_not_left_stale_from_an_earlier_report(tiny, monkeypatch):
    _only(monkeypatch, "members", "spreads")
    write_report(load_run(tiny))
    assert (tiny / "report-spreads.png").exists()
    (tiny / "quotes.csv").unlink()
    written = write_report(load_run(tiny))
    assert not (tiny / "report-spreads.png").exists()
    assert [p.name for p in written] == ["report.html", "report-members.png"]
    assert "no quotes.csv" in (tiny / "report.html").read_text("utf-8")


def test_cli_writes_the_report_where_asked(tiny, tmp_path, capsys, monkeypatch):
    _only(monkeypatch, "members", "prices")
    assert main(["report", str(tiny), "--out", str(tmp_path / "brief" / "may.html")]) == 0
    assert (tmp_path / "brief" / "may.html").is_file()
    assert (tmp_path / "brief" / "may-prices.png").is_file()
    assert "wrote" in capsys.readouterr().out


def test_cli_without_matplotlib_says_how_to_install_it(tiny, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["report", str(tiny)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'rexsim[report]'" in err


def test_cli_refuses_a_sweep_or_a_non_run_in_one_line(tmp_path, capsys):
    runfixture.write_run(tmp_path / "sweep" / "seed-1")
    (tmp_path / "sweep" / "sweep.csv").write_text("run,seed\nseed-1,1\n")
    assert main(["report", str(tmp_path / "sweep")]) == 2
    assert "is a sweep; give one of its runs ('seed-1'" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_directory_in_the_way_of_a_chart_is_refused_before_anything_is_written(
        tiny, tmp_path, capsys, monkeypatch):
    _only(monkeypatch, "members", "spreads")
    (tmp_path / "rep" / "x-spreads.png").mkdir(parents=True)
    assert main(["report", str(tiny), "--out", str(tmp_path / "rep" / "x.html")]) == 2
    err = capsys.readouterr().err
    assert err == (f"rexsim: --out: {tmp_path / 'rep' / 'x-spreads.png'}: a directory is in "
                   f"the way of the report's file\n")  # the file that failed, named once
    assert [p.name for p in (tmp_path / "rep").iterdir()] == ["x-spreads.png"]


def test_a_report_beside_its_run_names_no_flag_it_was_not_given(tiny, capsys, monkeypatch):
    _only(monkeypatch, "members", "spreads")
    (tiny / "report-spreads.png").mkdir()
    assert main(["report", str(tiny)]) == 2
    assert capsys.readouterr().err == (f"rexsim: {tiny / 'report-spreads.png'}: a directory is "
                                       f"in the way of the report's file\n")


@pytest.mark.parametrize("target, message", [
    ("other/summary.json", "other/summary.json: exists and is not an earlier rexsim report's "
                           "page, so the report does not replace it"),
    ("notes.txt", "notes.txt: exists and is not an earlier rexsim report's page"),
    ("other/report.html", "other: a run's or sweep's directory, and a report goes in none but "
                          "its own run's, as report.html"),
    ("tiny/may.html", "tiny: a run's or sweep's directory"),
])
def test_a_report_never_replaces_a_file_it_did_not_write_or_goes_into_another_run(
        tiny, tmp_path, capsys, monkeypatch, target, message):
    """`--out B/summary.json` wrote HTML over another run's summary and exited 0."""
    _only(monkeypatch, "members")
    other = runfixture.write_run(tmp_path / "other")
    (tmp_path / "notes.txt").write_text("mine\n")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert main(["report", str(tiny), "--out", str(tmp_path / target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rexsim: --out: {tmp_path}/{message}") and err.count("\n") == 1
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert other.is_dir()


def test_a_report_replaces_an_earlier_report_and_its_charts(tiny, tmp_path, monkeypatch):
    _only(monkeypatch, "members")
    first = write_report(load_run(tiny), tmp_path / "brief" / "may.html")
    again = write_report(load_run(tiny), tmp_path / "brief" / "may.html")
    assert first == again and all(p.is_file() for p in again)
    assert write_report(load_run(tiny))[0] == tiny / "report.html"


def test_a_failed_write_leaves_the_earlier_report_as_it_was(tiny, monkeypatch):
    _only(monkeypatch, "members", "prices")
    write_report(load_run(tiny))
    before = {p.name: p.read_bytes() for p in tiny.iterdir()}
    real = Path.write_bytes

    def disk_full_at_the_prices_chart(self, data):
        if "prices" in self.name:
            real(self, data[:100])  # part written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", disk_full_at_the_prices_chart)
    summary = json.loads((tiny / "summary.json").read_text())
    (tiny / "summary.json").write_text(json.dumps({**summary, "seed": 9}))
    before["summary.json"] = (tiny / "summary.json").read_bytes()
    with pytest.raises(OutputError, match=r"report-prices.png: No space left on device"):
        write_report(load_run(tiny))
    assert {p.name: p.read_bytes() for p in tiny.iterdir()} == before  # no temporaries


def test_a_new_report_directory_is_not_left_behind_when_writing_fails(tiny, tmp_path,
                                                                      monkeypatch):
    _only(monkeypatch, "members")

    def disk_full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(OutputError):
        write_report(load_run(tiny), tmp_path / "new" / "deeper" / "r.html")
    assert not (tmp_path / "new").exists()


def _current(out):
    """The tiny run as rexsim 0.2.0 writes it, so it is held whole to its summary."""
    runfixture.write_run(out)
    summary = json.loads((out / "summary.json").read_text())
    (out / "summary.json").write_text(json.dumps({**summary, "rexsim_version": "0.2.0"}))
    return out


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "trades.csv").write_text(
        "".join((d / "trades.csv").read_text().splitlines(keepends=True)[:6])),
     "trades.csv: 5 rows, but the run's summary records 8 (trades)"),
    (lambda d: (d / "quotes.csv").unlink(), "no quotes.csv, which rexsim 0.2.0 writes"),
    (lambda d: (d / "off_exchange.csv").write_text(
        (d / "off_exchange.csv").read_text()[:-4]), "off_exchange.csv: its last row is cut"),
])
def test_cli_refuses_to_report_a_run_cut_short_and_writes_nothing(tmp_path, capsys,
                                                                   monkeypatch, damage,
                                                                   message):
    _only(monkeypatch, "members", "spreads")
    out = _current(tmp_path / "run")
    damage(out)
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not list(out.glob("report*"))


def test_cli_refuses_a_summary_field_of_the_wrong_type_in_one_line(tiny, capsys):
    summary = json.loads((tiny / "summary.json").read_text())
    (tiny / "summary.json").write_text(json.dumps({**summary, "tonnage_kg": "abc"}))
    assert main(["report", str(tiny)]) == 2
    assert capsys.readouterr().err == (f"rexsim: {tiny / 'summary.json'}: tonnage_kg: "
                                       f'expected int, got "abc"\n')


# ----------------------------------------------------------------------------- browser

CHECK = """<script>
window.addEventListener("load", () => {
  const out = [...document.querySelectorAll("img")].map(img => {
    const box = img.getBoundingClientRect(), style = getComputedStyle(img);
    return {chart: img.dataset.chart, complete: img.complete, natural: img.naturalWidth,
            width: box.width, height: box.height,
            shown: style.display !== "none" && style.visibility !== "hidden"};
  });
  const pre = document.createElement("pre");
  pre.id = "check"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium on PATH (CI installs Debian's: apt-get install chromium), so "
                "the report is not rendered in a browser here")


def test_every_chart_renders_in_a_browser_with_a_visible_size(report, tmp_path):
    chromium = _chromium()
    page = (report[0] / "report.html").read_text("utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", CHECK + "</body>"), "utf-8")
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
           "--window-size=1280,2000", "--virtual-time-budget=10000", "--dump-dom",
           probe.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'<pre id="check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"chromium printed no check (exit {done.returncode}): {done.stderr[-500:]}"
    images = json.loads(found.group(1).replace("&quot;", '"'))
    assert [i["chart"] for i in images] == ALL_CHARTS
    for i in images:
        assert i["complete"] and i["natural"] > 0, i
        assert i["shown"] and i["width"] > 300 and i["height"] > 100, i
