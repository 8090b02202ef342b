"""`rexsim report`: one self-contained HTML page of a run's charts and tables, PNGs beside."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `report` subcommand."""
    p = subparsers.add_parser(
        "report", help="write a run's report: charts and tables in one HTML file",
        description="Write one self-contained report.html of a run (every chart embedded, "
                    "so it opens in any browser with no network) and each chart as "
                    "report-NAME.png beside it: daily tonnage and value by channel, prices "
                    "with their band and the national price, cumulative figures against the "
                    "published ones, members online, concentration by month, value by "
                    "province, spread and depth; and tables of the headline figures, the "
                    "products and price transparency. Needs matplotlib: "
                    "pip install 'rexsim[report]'.")
    p.add_argument("run", metavar="RUN_DIR", help="a run's output directory (rexsim run --out)")
    p.add_argument("--against", default=None, metavar="BASE_RUN",
                   help="also compare every headline metric with this baseline run, and list "
                        "the settings in which the two differ")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="the HTML file to write (default: RUN_DIR/report.html); its charts "
                        "go beside it as STEM-NAME.png")
    p.set_defaults(func=_report)


def _one_run(path: str, what: str):
    from sim.cli import UserError
    from sim.runs import Run, load_run

    r = load_run(path)
    if not isinstance(r, Run):
        raise UserError(f"{what}: {path} is a sweep; give one of its runs ({r.runs[0]!r} "
                        f"in it, for example)" if r.runs else f"{what}: {path} is a sweep")
    return r


def _report(args: argparse.Namespace) -> int:
    from sim.errors import OutputError
    from sim.report import write_report

    run = _one_run(args.run, "RUN_DIR")
    base = _one_run(args.against, "--against") if args.against else None
    out = None
    if args.out is not None:
        out = Path(args.out)
        if out.is_dir() or args.out.endswith(("/", "\\")):
            out = out / "report.html"
    flag = "--out" if out is not None else None  # a report beside its run: no flag to name
    try:
        written = write_report(run, out, against=base)
    except OutputError as exc:  # it already names the file that could not be written
        if flag is None:
            raise OutputError(exc.detail) from None
        raise
    except OSError as exc:
        raise OutputError(f"{out or run.path / 'report.html'}: cannot write the report: "
                          f"{exc.strerror or exc}", option=flag) from None
    pngs = written[1:]
    print(f"wrote {written[0]} and {len(pngs)} charts beside it "
          f"({', '.join(p.name for p in pngs)})")
    return 0
