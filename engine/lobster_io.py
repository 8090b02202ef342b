"""Reading LOBSTER files: open a CSV or a zip member, parse and validate messages and book rows.

A LOBSTER day is a pair of files with one line per event: the *message* file
(`time, type, order_id, size, price, direction`) and the *orderbook* file (the top N levels
after that event, `ask_price_1, ask_size_1, bid_price_1, bid_size_1, ask_price_2, ...`).
Everything here is integer: times become nanoseconds after midnight, prices stay in LOBSTER's
units (dollars x 10000). Malformed input raises `LobsterFormatError` naming the file and line.

What is accepted beyond LOBSTER's own files (each reported, where it is not exact, in the
replay report):
- times with more than nine decimals, as files re-written through floats have
  (`43002.632812672004`): rounded to the nearest nanosecond, halves up, and counted
  (`FileNotes.rounded_times`); trailing zeros (`34200.015105074000`) are exact, not counted;
- a UTF-8 byte-order mark, stripped; blank lines at the end of a file, ignored (a blank line
  with rows after it is an error naming its line);
- a first line that is LOBSTER's column names (the message file's `Time, Type, Order ID,
  Size, Price, Direction`, the orderbook file's `Ask Price 1, Ask Size 1, Bid Price 1, ...`;
  any case, spaces or underscores): skipped and reported (`FileNotes.header`). A first line
  of other words is refused: LOBSTER's files have no header, so it is not one of theirs.
"""

from __future__ import annotations

import io
import itertools
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from operator import gt as _gt
from operator import lt as _lt
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "ASK_EMPTY",
    "BID_EMPTY",
    "BookRow",
    "FileNotes",
    "LobsterFormatError",
    "LobsterSource",
    "Message",
    "iter_messages",
    "format_row",
    "read_book_lines",
    "parse_row",
    "open_source",
]

DAY_NS = 86_400 * 1_000_000_000  # a message's time is seconds after midnight, within the day
INT64 = 2**63  # ids, sizes and prices go to the book, which holds signed 64-bit integers
ASK_EMPTY = 9_999_999_999  # price LOBSTER writes in an unoccupied ask slot (size 0)
BID_EMPTY = -9_999_999_999  # price LOBSTER writes in an unoccupied bid slot (size 0)

ADD, PARTIAL_CANCEL, DELETE, EXECUTE, HIDDEN_EXECUTE, CROSS_TRADE, HALT = range(1, 8)
_BOOK_TYPES = (ADD, PARTIAL_CANCEL, DELETE, EXECUTE)

# (time_ns, type, order_id, size, price, direction)
Message = tuple[int, int, int, int, int, int]


class BookRow(NamedTuple):
    """One orderbook line: the real (price, size) levels of each side, best first, and the window.

    `ask_hi` is the worst ask price inside the window, or ASK_EMPTY when the row shows fewer
    than N ask levels (then the whole side is visible); `bid_lo` likewise, 0 when not full.
    """

    asks: list[tuple[int, int]]
    bids: list[tuple[int, int]]
    ask_hi: int
    bid_lo: int


class LobsterFormatError(ValueError):
    """A LOBSTER file is unreadable or malformed; the message names the file and line."""


class FileNotes:
    """What reading one LOBSTER file found besides its rows (filled in as it is read).

    `header` is the header row that was skipped (None: the file had none, as LOBSTER writes
    them), so its data rows start on line `first_line`; `rounded_times` counts message rows
    whose time had sub-nanosecond digits that were not all zero.
    """

    __slots__ = ("header", "first_line", "rounded_times")

    def __init__(self) -> None:
        self.header: str | None = None
        self.first_line = 1
        self.rounded_times = 0


class LobsterSource:
    """A readable LOBSTER file: a plain CSV path, or one member of a zip archive."""

    __slots__ = ("path", "member")

    def __init__(self, path: Path, member: str | None = None) -> None:
        self.path = path
        self.member = member

    @property
    def name(self) -> str:
        """How error messages and reports name this file."""
        return str(self.path) if self.member is None else f"{self.path}:{self.member}"

    def lines(self) -> Iterator[str]:
        """The file's lines, without line endings, a byte-order mark or blank lines at the end.

        A blank line followed by a non-blank one is an error naming the blank line.
        """
        try:
            if self.member is None:
                handle = open(self.path, encoding="utf-8-sig", newline="")  # noqa: SIM115
            else:
                with zipfile.ZipFile(self.path) as archive:
                    raw = archive.open(self.member)
                handle = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        except (OSError, zipfile.BadZipFile, KeyError) as exc:
            raise LobsterFormatError(f"{self.name}: cannot read: {_why(exc)}") from None
        with handle:
            lineno = 0
            blank = 0  # the first of the blank lines just read
            try:
                for lineno, line in enumerate(handle, 1):  # noqa: B007
                    line = line.rstrip("\r\n")
                    if not line or line.isspace():
                        blank = blank or lineno
                        continue
                    if blank:
                        raise LobsterFormatError(
                            f"{self.name}:{blank}: a blank line with rows after it (only blank "
                            f"lines at the end of a file are ignored)")
                    yield line
            except (OSError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
                raise LobsterFormatError(
                    f"{self.name}:{lineno + 1}: cannot read: {_why(exc)}") from None

    def count_lines(self) -> int:
        """The number of lines, read quickly (for a progress bar's total)."""
        return sum(1 for _ in self.lines())

    def __repr__(self) -> str:
        return f"LobsterSource({self.name!r})"


def open_source(spec: str | os.PathLike[str] | LobsterSource) -> LobsterSource:
    """Resolve `"file.csv"` or `"archive.zip:MEMBER"` to a readable source, checking it exists.

    MEMBER may be the member's full name inside the archive or its base name.
    """
    if isinstance(spec, LobsterSource):
        return spec
    text = os.fspath(spec)
    path = Path(text)
    if path.is_file():
        if zipfile.is_zipfile(path):
            raise LobsterFormatError(
                f"{text}: is a zip archive; name the member as {text}:MEMBER "
                f"(members: {', '.join(_members(path))})")
        return LobsterSource(path)
    head, sep, member = text.rpartition(":")
    if sep and head and Path(head).is_file():
        archive = Path(head)
        members = _members(archive)
        if member in members:
            return LobsterSource(archive, member)
        matches = [m for m in members if m.rsplit("/", 1)[-1] == member]
        if len(matches) == 1:
            return LobsterSource(archive, matches[0])
        raise LobsterFormatError(
            f"{head}: has no member {member!r} (members: {', '.join(members) or 'none'})")
    raise LobsterFormatError(f"{text}: no such file")


def _members(archive: Path) -> list[str]:
    try:
        with zipfile.ZipFile(archive) as zf:
            return [m for m in zf.namelist() if not m.endswith("/")]
    except (OSError, zipfile.BadZipFile) as exc:
        raise LobsterFormatError(f"{archive}: cannot read as a zip archive: {_why(exc)}") from None


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# ---------------------------------------------------------------------- messages


def time_ns(text: str) -> tuple[int, bool]:
    """Seconds after midnight -> (integer nanoseconds, whether they were rounded); no floats.

    Digits beyond the ninth decimal round to the nearest nanosecond, halves up; they count as
    rounded unless they are all zeros.
    """
    whole, dot, frac = text.strip().partition(".")
    if not whole.isdecimal() or (dot and not frac.isdecimal()):
        raise ValueError(f"time {text!r} is not seconds after midnight (digits[.digits])")
    ns = int(whole) * 1_000_000_000
    if len(frac) <= 9:
        return ns + (int(frac.ljust(9, "0")) if frac else 0), False
    extra = frac[9:]
    return ns + int(frac[:9]) + (int(extra[0]) >= 5), extra.strip("0") != ""


def parse_time(text: str) -> int:
    """Seconds after midnight -> integer nanoseconds, rounded to the nearest (halves up)."""
    return time_ns(text)[0]


def parse_message(line: str, notes: FileNotes | None = None) -> Message:
    """Parse one message line; raise ValueError saying what is wrong.

    A time rounded to the nanosecond is counted in `notes.rounded_times`.
    """
    fields = line.split(",")
    if len(fields) != 6:
        raise ValueError(f"expected 6 comma-separated fields, got {len(fields)}")
    if "_" in line or not line.isascii():  # int() reads "1_00" and full-width digits
        raise ValueError("a field is not plain ASCII digits")
    whole, dot, frac = fields[0].partition(".")  # time_ns, inlined for the common case
    if len(frac) <= 9 and whole.isdecimal() and (frac.isdecimal() or not dot):
        time_ns_ = int(whole) * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac else 0)
    else:
        time_ns_, rounded = time_ns(fields[0])
        if rounded and notes is not None:
            notes.rounded_times += 1
    if time_ns_ >= DAY_NS:
        raise ValueError(f"time {fields[0].strip()} is not within a day (< 86400 seconds)")
    try:
        kind, order_id, size, price, direction = map(int, fields[1:])
    except ValueError:
        bad = next(f for f in fields[1:] if not _is_int(f))
        raise ValueError(f"field {bad.strip()!r} is not an integer") from None
    if not (-INT64 <= order_id < INT64 and -INT64 <= size < INT64 and -INT64 <= price < INT64):
        bad = next(f for f in fields[2:5] if not -INT64 <= int(f) < INT64)
        raise ValueError(f"field {bad.strip()!r} is outside the signed 64-bit range")
    if kind in _BOOK_TYPES:
        if size <= 0:
            raise ValueError(f"type {kind} message with size {size} (must be positive)")
        if price <= 0:
            raise ValueError(f"type {kind} message with price {price} (must be positive)")
        if direction != 1 and direction != -1:
            raise ValueError(f"direction {direction} is neither 1 (buy) nor -1 (sell)")
        if order_id < 0:
            raise ValueError(f"order id {order_id} is negative")
    elif not HIDDEN_EXECUTE <= kind <= HALT:
        raise ValueError(f"event type {kind} is not one of 1-7")
    return (time_ns_, kind, order_id, size, price, direction)


MESSAGE_COLUMNS = ("time", "type", "orderid", "size", "price", "direction")
_NOT_A_NAME = re.compile(r"[\s_\-.]+")


def _names(line: str) -> list[str]:
    """The fields of a header row, lower case, without spaces, underscores, dashes or dots."""
    return [_NOT_A_NAME.sub("", field).lower() for field in line.split(",")]


def _is_header(line: str) -> bool:
    """Whether a first line is words, not numbers (a LOBSTER row has no letters)."""
    return any(c.isalpha() for c in line)


def _header(source: LobsterSource, line: str, known: bool, columns: str,
            notes: FileNotes | None) -> None:
    """Skip a recognised header row (noted), or refuse a first line of other words."""
    if not known:
        raise LobsterFormatError(
            f"{source.name}:1: a header row ({_clip(line)}) that is not LOBSTER's columns "
            f"({columns}); LOBSTER files have none")
    if notes is not None:
        notes.header = line
        notes.first_line = 2


def iter_messages(source: LobsterSource, notes: FileNotes | None = None) -> Iterator[Message]:
    """Parsed messages of a message file, in order (a LOBSTER header row skipped, noted)."""
    name = source.name
    lines = source.lines()
    first = next(lines, None)
    start = 1
    if first is not None and _is_header(first):
        names = _names(first)
        if names[1:2] == ["eventtype"]:
            names[1] = "type"
        _header(source, first, tuple(names) == MESSAGE_COLUMNS,
                "Time,Type,OrderID,Size,Price,Direction", notes)
        first = None
        start = 2
    for lineno, line in enumerate(lines if first is None else itertools.chain((first,), lines),
                                  start):
        try:
            message = parse_message(line, notes)
        except ValueError as exc:
            raise LobsterFormatError(f"{name}:{lineno}: {exc}: {_clip(line)}") from None
        yield message


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _clip(line: str) -> str:
    return repr(line if len(line) <= 80 else line[:77] + "...")


# ---------------------------------------------------------------------- orderbook rows


def parse_row(line: str, levels: int) -> BookRow:
    """Parse and validate one orderbook line of `levels` levels; raise ValueError if wrong."""
    fields = line.split(",")
    if len(fields) != 4 * levels:
        raise ValueError(f"expected {4 * levels} fields ({levels} levels), got {len(fields)}")
    if "_" in line or not line.isascii():  # int() reads "1_00" and full-width digits
        raise ValueError("a field is not plain ASCII digits")
    try:
        values = list(map(int, fields))
    except ValueError:
        bad = next(f for f in fields if not _is_int(f))
        raise ValueError(f"field {bad.strip()!r} is not an integer") from None
    asks = _fast_side(values[0::4], values[1::4], ASK_EMPTY, _lt)
    if asks is None:
        asks = _side(values[0::4], values[1::4], ASK_EMPTY, 1, "ask")
    bids = _fast_side(values[2::4], values[3::4], BID_EMPTY, _gt)
    if bids is None:
        bids = _side(values[2::4], values[3::4], BID_EMPTY, -1, "bid")
    if asks and bids and bids[0][0] >= asks[0][0]:
        raise ValueError(f"book is crossed: bid {bids[0][0]} >= ask {asks[0][0]}")
    ask_hi = asks[-1][0] if len(asks) == levels else ASK_EMPTY
    bid_lo = bids[-1][0] if len(bids) == levels else 0
    return BookRow(asks, bids, ask_hi, bid_lo)


def _fast_side(prices: list[int], sizes: list[int], empty: int,
               better: Callable[[int, int], bool]) -> list[tuple[int, int]] | None:
    """The real levels of one side when the side is well formed, else None (C-speed checks)."""
    n = prices.index(empty) if empty in prices else len(prices)
    real = prices[:n]
    real_sizes = sizes[:n]
    if n and (min(real) <= 0 or max(real) >= ASK_EMPTY or min(real_sizes) <= 0
              or not all(map(better, real, real[1:]))):
        return None
    if n < len(prices) and (prices.count(empty) != len(prices) - n or any(sizes[n:])):
        return None
    return list(zip(real, real_sizes, strict=True))


def _side(prices: list[int], sizes: list[int], empty: int, sign: int,
          name: str) -> list[tuple[int, int]]:
    """Real levels of one side, checked: positive, strictly worsening, empty slots last."""
    out: list[tuple[int, int]] = []
    last = None
    for i, (price, size) in enumerate(zip(prices, sizes, strict=True), 1):
        if price == empty:
            if size != 0:
                raise ValueError(f"empty {name} slot {i} has size {size} (must be 0)")
            last = empty
            continue
        if last == empty:
            raise ValueError(f"{name} level {i} follows an empty slot")
        if not 0 < price < ASK_EMPTY:
            raise ValueError(f"{name} price {price} at level {i} is out of range")
        if size <= 0:
            raise ValueError(f"{name} size {size} at level {i} is not positive")
        if last is not None and sign * (price - last) <= 0:
            raise ValueError(f"{name} prices not strictly {'rising' if sign > 0 else 'falling'}"
                             f" at level {i}: {last} then {price}")
        out.append((price, size))
        last = price
    return out


def row_levels(source: LobsterSource, first_line: str, lineno: int = 1) -> int:
    """How many levels an orderbook file carries, from the width of its first line."""
    width = len(first_line.split(","))
    if width % 4:
        raise LobsterFormatError(
            f"{source.name}:{lineno}: {width} fields is not a multiple of 4 (price and size per "
            f"side per level): {_clip(first_line)}")
    return width // 4


def _is_book_header(line: str) -> bool:
    names = _names(line)
    if len(names) % 4:
        return False
    want = [f"{side}{what}{k}" for k in range(1, len(names) // 4 + 1)
            for side, what in (("ask", "price"), ("ask", "size"), ("bid", "price"),
                               ("bid", "size"))]
    return names == want


def read_book_lines(source: LobsterSource, levels: int | None = None,
                    notes: FileNotes | None = None) -> tuple[int, Iterator[str]]:
    """The number of levels of an orderbook file and an iterator over all its data lines.

    With `levels` None the number is inferred from the first line's width; otherwise the width
    must agree with it. The file is opened (and its first line read) at once; a LOBSTER header
    row is skipped (noted in `notes`). Lines are parsed by the caller (`parse_row`), which can
    skip a line equal to `format_row` of the book it expects.
    """
    name = source.name
    lines = source.lines()
    first = next(lines, None)
    if first is not None and _is_header(first):
        _header(source, first, _is_book_header(first),
                "AskPrice1,AskSize1,BidPrice1,BidSize1,AskPrice2,...", notes)
        first = next(lines, None)
        if first is None:
            raise LobsterFormatError(f"{name}:2: no rows after the header row")
        lineno = 2
    else:
        lineno = 1
    if first is None:
        raise LobsterFormatError(f"{name}:1: empty file")
    found = row_levels(source, first, lineno)
    if levels is not None and found != levels:
        raise LobsterFormatError(
            f"{name}:{lineno}: rows carry {found} levels, but {levels} were asked for")
    return found, itertools.chain((first,), lines)


def row_error(source: LobsterSource, lineno: int, line: str, exc: ValueError) -> LobsterFormatError:
    """The one-line error for an orderbook line that `parse_row` refused."""
    return LobsterFormatError(f"{source.name}:{lineno}: {exc}: {_clip(line)}")


def format_row(asks: list[tuple[int, int]], bids: list[tuple[int, int]], levels: int) -> str:
    """The orderbook line LOBSTER writes for these levels (best first), empty slots padded."""
    if len(asks) < levels:
        asks = asks + [(ASK_EMPTY, 0)] * (levels - len(asks))
    if len(bids) < levels:
        bids = bids + [(BID_EMPTY, 0)] * (levels - len(bids))
    # %-formatting of the joined tuples is the fastest way here; this runs once per row
    return ",".join(["%d,%d,%d,%d" % (ask + bid)  # noqa: UP031
                     for ask, bid in zip(asks[:levels], bids[:levels], strict=True)])
