"""The sweep's tables as files and as values: exact CSV cells, and DataFrames or light Tables.

A cell is written so that reading it back gives the same value: integers as integers (kg and
fen stay exact), floats as their shortest round-tripping text (`repr`), None (and NaN) as an
empty cell. A table handed to a caller is a pandas DataFrame when pandas is installed (integer
columns stay integers, `Int64` where a cell is empty), else a `sim.Table` with `.columns` and
`.rows`.
"""

from __future__ import annotations

import csv
import math
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sim.recorder import Table

__all__ = ["cell", "frame", "parse_cell", "read_csv", "write_csv"]

_INT = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")


def cell(value: Any) -> str:
    """One value as CSV text that reads back as the same value (see `parse_cell`)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parse_cell(text: str) -> Any:
    """A CSV cell's value: '' is None, integers are int, decimals are float, else the text."""
    if text == "":
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write a CSV file whole or not at all: into a file beside it, then renamed into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(columns)
            for row in rows:
                w.writerow([cell(v) for v in row])
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_csv(path: Path) -> Table:
    """A CSV file written by `write_csv` as a Table of typed values."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        rows = [tuple(parse_cell(c) for c in cells) for cells in reader]
    return Table(header, rows)


def frame(table: Table) -> Any:
    """The table as a pandas DataFrame when pandas is installed, else the Table itself."""
    try:
        import pandas as pd
    except ImportError:
        return table
    df = pd.DataFrame(table.rows, columns=list(table.columns))
    for i, name in enumerate(table.columns):
        values = [r[i] for r in table.rows]
        known = [v for v in values if v is not None]
        if known and len(known) < len(values) and all(type(v) is int for v in known):
            df[name] = pd.array(values, dtype="Int64")  # exact, with missing cells
    return df
