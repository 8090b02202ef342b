"""Replay a NASDAQ LOBSTER day through `OrderBook` and check it against the published book.

How the replay works
--------------------
The book has tick 1 (LOBSTER's price unit, $0.0001) and lot 1 (one share). Each message is
applied through the book's public API, then the rebuilt top N levels are compared with the
orderbook row written after that message (first as text: when the line is exactly the one
LOBSTER would write for the book, as on almost every row, it need not even be parsed):

* type 1 adds a post-only GTC limit order under LOBSTER's own order id; type 2 lowers its
  quantity (an amend that keeps priority); type 3 cancels it; types 5, 6 and 7 change nothing.
* type 4, the execution of a named resting order, goes through matching: when the named order
  heads the best level of its side, a synthetic counterparty sends an immediate-or-cancel order
  of the executed size at that price, and the resulting `Trade` must name the order. When the
  order is not at the head (or better-priced volume sits in front of it) it is reduced
  directly, and, if every order in front of it is one the replay knows for certain, the case
  is counted as a FIFO exception.

Three facts of the data need care (see `shared/data/lobster/README.md`):

1. The day starts with a book. The first row, with the first message undone if it is an add,
   becomes one anonymous order per price (negative ids), which is at the front of its queue
   because the book is otherwise empty. (A first message that is not an add is already shown
   by the first row and is not replayed or counted.) Messages naming an id the book does not
   hold use up the anonymous volume at their price, oldest first.
2. A level-N file only reports events inside the top N levels. A price is compared only when
   it lies inside the window on the previous row and on this row (`mismatch_rows`). Afterwards
   every price inside this row's window is reconciled with the row: a level that differs is
   refilled with anonymous volume at its tail or trimmed, and counted (`refilled_levels`).
   Only prices outside the previous window are refilled, and no message can add an order at
   such a price, so the known orders there are all older than the unannounced ones. Known
   orders whose price leaves the window become *uncertain*: they may be cancelled or changed
   without a message, so they are trimmed first when a level shrinks, and an execution behind
   them is not FIFO-checkable. A message removes exactly its size from the level; when an
   uncertain order turns out to hold more than a delete says, the rest becomes anonymous
   volume at the front of the queue (its age is unknown).
3. Executions name the resting order, which tests time priority: an execution is
   FIFO-checkable when every order in front of the named one, at its price and at better
   prices, is known for certain (not anonymous, not uncertain).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import msgspec

from engine.book import OrderBook
from engine.events import Rejected, Trade
from engine.lobster_io import (
    ADD,
    ASK_EMPTY,
    DELETE,
    EXECUTE,
    PARTIAL_CANCEL,
    BookRow,
    FileNotes,
    LobsterFormatError,
    LobsterSource,
    Message,
    format_row,
    iter_messages,
    open_source,
    parse_row,
    read_book_lines,
    row_error,
)
from engine.orders import Side, TimeInForce

__all__ = [
    "LobsterFormatError",
    "LobsterSource",
    "ReplayReport",
    "open_source",
    "replay",
]

BUY = Side.BUY
SELL = Side.SELL
IOC = TimeInForce.IOC
TAKER = "lobster-counterparty"  # owner of the synthetic orders that execute named orders
PROGRESS_EVERY = 4096  # rows between two progress callbacks
FIFO_PASS = (995, 1000)  # fifo_head / fifo_checkable must be at least this for a pass


class ReplayReport(msgspec.Struct, kw_only=True):
    """What a LOBSTER replay found; `rexsim lobster` prints it as one JSON object."""

    message_file: str
    orderbook_file: str
    levels: int
    rows: int = 0  # orderbook rows read (= messages)
    rounded_times: int = 0  # message times with digits beyond nanoseconds, rounded to the ns
    message_header_skipped: bool = False  # the message file began with LOBSTER's column names
    orderbook_header_skipped: bool = False  # likewise the orderbook file
    mismatch_rows: int = 0  # rows differing at a price inside the window on both rows
    best_price_mismatch_rows: int = 0  # rows whose best bid or best ask differs
    refilled_levels: int = 0  # levels brought in line with a row as they entered the window
    refilled_volume: int = 0  # shares added anonymously by those refills
    trimmed_volume: int = 0  # shares removed by them (uncertain or anonymous volume)
    resynced_levels: int = 0  # levels at trusted prices forced back in line (0 when faithful)
    opening_levels: int = 0  # price levels of the opening book, as anonymous orders
    opening_volume: int = 0
    adds: int = 0
    partial_cancels: int = 0
    deletes: int = 0
    executions: int = 0  # type 4 messages replayed
    executions_matched: int = 0  # of those, executed by matching an IOC counterparty
    trade_check_failures: int = 0  # matched executions whose Trade did not name the order
    fifo_checkable: int = 0  # executions whose queue position is known
    fifo_head: int = 0  # checkable executions that hit the oldest order at the best price
    fifo_exceptions: int = 0  # checkable executions of an order that was not at the head
    fifo_share: float = 1.0  # fifo_head / fifo_checkable (1.0 when nothing was checkable)
    hidden_executions: int = 0  # type 5
    cross_trades: int = 0  # type 6
    halts: int = 0  # type 7
    unknown_order_messages: int = 0  # types 2-4 naming an id the book does not hold
    uncertain_orders: int = 0  # known orders whose price left the window
    uncertain_size_corrections: int = 0  # messages sizing an uncertain order differently
    # should all stay absent; "time_went_backwards" counts messages earlier than the one before
    anomalies: dict[str, int] = msgspec.field(default_factory=dict)
    passed: bool = False  # mismatch_rows == 0 and fifo_share >= 0.995

    def finish(self) -> ReplayReport:
        """Fill in the derived fields (share and verdict) from the counts."""
        checkable, head = self.fifo_checkable, self.fifo_head
        self.fifo_share = round(head / checkable, 6) if checkable else 1.0
        num, den = FIFO_PASS
        self.passed = self.mismatch_rows == 0 and head * den >= checkable * num
        return self


def replay(
    message_source: str | os.PathLike[str] | LobsterSource,
    orderbook_source: str | os.PathLike[str] | LobsterSource,
    levels: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> ReplayReport:
    """Replay a LOBSTER message file through an `OrderBook`, checking every orderbook row.

    Sources are paths, `"archive.zip:MEMBER"` strings or `LobsterSource`s. `levels` defaults
    to the width of the orderbook rows. `progress(n)` is called now and then with the number
    of rows done since the last call. Raises `LobsterFormatError` on unreadable or malformed
    input, naming the file and line. What `engine.lobster_io` accepts beyond LOBSTER's own
    files (times past nanoseconds, a byte-order mark, blank lines at the end, a header row)
    is counted in the report; times that go backwards are an anomaly, and replayed as given.
    """
    messages_src = open_source(message_source)
    rows_src = open_source(orderbook_source)
    msg_notes, row_notes = FileNotes(), FileNotes()
    levels, rows = read_book_lines(rows_src, levels, row_notes)
    report = ReplayReport(message_file=messages_src.name, orderbook_file=rows_src.name,
                          levels=levels)
    messages = iter_messages(messages_src, msg_notes)
    first_msg = next(messages, None)
    first_row = next(rows, None)
    if first_msg is None:
        raise LobsterFormatError(f"{messages_src.name}:{msg_notes.first_line}: empty file")
    assert first_row is not None  # read_book_lines has read the first line
    msg_skip, row_skip = msg_notes.first_line - 1, row_notes.first_line - 1
    state = _Replay(report, levels, rows_src, row_skip)
    state.open(first_msg, first_row)
    lineno = 1
    done = 1
    step = state.step
    for lineno, msg in enumerate(messages, 2):  # noqa: B007
        row = next(rows, None)
        if row is None:
            raise LobsterFormatError(
                f"{messages_src.name}:{lineno + msg_skip}: more messages than {rows_src.name} "
                f"has rows ({lineno - 1})")
        step(msg, row, lineno)
        done += 1
        if progress is not None and done == PROGRESS_EVERY:
            progress(done)
            done = 0
    if next(rows, None) is not None:
        raise LobsterFormatError(
            f"{rows_src.name}:{lineno + 1 + row_skip}: more rows than {messages_src.name} has "
            f"messages ({lineno})")
    if progress is not None and done:
        progress(done)
    report.rows = lineno
    report.rounded_times = msg_notes.rounded_times
    report.message_header_skipped = msg_notes.header is not None
    report.orderbook_header_skipped = row_notes.header is not None
    report.uncertain_orders = state.uncertain_marked
    return report.finish()


class _Replay:
    """The state of one replay: the book, what is known about its orders, and the counts."""

    def __init__(self, report: ReplayReport, levels: int, rows_src: LobsterSource,
                 row_skip: int = 0) -> None:
        self.report = report
        self.levels = levels
        self.rows_src = rows_src
        self.row_skip = row_skip  # lines before the first row (a header row)
        self.book = OrderBook(tick=1, lot=1, product=None)
        self.next_id = -1  # synthetic ids (anonymous volume, counterparties) are negative
        self.uncertain: set[int] = set()  # known ids whose price has left the window
        self.uncertain_marked = 0
        self.prev: tuple[int, int] | None = None  # (ask_hi, bid_lo) of the previous row
        self.added: tuple[int, Side, int] | None = None  # the add of the current message
        self.time = 0
        self.anomalies = report.anomalies

    # ------------------------------------------------------------------ the opening book

    def open(self, msg: Message, line: str) -> None:
        """Build the opening book from the first row, undoing the first message if an add."""
        report = self.report
        book = self.book
        self.time = msg[0]
        row = self._parse(line, 1)
        asks, bids = dict(row.asks), dict(row.bids)
        if msg[1] == ADD:
            side_levels = bids if msg[5] == 1 else asks
            price, size = msg[4], msg[3]
            left = side_levels.get(price, 0) - size
            if left < 0:
                self._anomaly("first_add_not_in_first_row")
            if left > 0:
                side_levels[price] = left
            else:
                side_levels.pop(price, None)
        for side, side_levels in ((BUY, bids), (SELL, asks)):
            for price, size in side_levels.items():
                book.limit(self._new_id(), side, price, size, None, time=self.time)
                report.opening_levels += 1
                report.opening_volume += size
        if msg[1] == ADD:
            self.step(msg, line, 1)
        else:
            self.prev = (row.ask_hi, row.bid_lo)  # the row already shows the first message

    # ------------------------------------------------------------------ one message

    def step(self, msg: Message, line: str, lineno: int) -> None:
        """Apply one message, compare with its row, then bring the window in line with it."""
        time, kind, order_id, size, price, direction = msg
        if time < self.time:
            self._anomaly("time_went_backwards")
        self.time = time
        side = BUY if direction == 1 else SELL
        if kind == ADD:
            self._add(order_id, side, price, size)
        elif kind == EXECUTE:
            self._execute(order_id, side, price, size)
        elif kind == DELETE:
            self._reduce(order_id, side, price, size, delete=True)
        elif kind == PARTIAL_CANCEL:
            self._reduce(order_id, side, price, size, delete=False)
        else:
            report = self.report
            if kind == 5:
                report.hidden_executions += 1
            elif kind == 6:
                report.cross_trades += 1
            else:
                report.halts += 1
        self._check(line, lineno)

    def _add(self, order_id: int, side: Side, price: int, size: int) -> None:
        self.report.adds += 1
        book = self.book
        if order_id in book:
            self._anomaly("add_of_live_id")
            return
        events = book.limit(order_id, side, price, size, None, post_only=True, time=self.time)
        if isinstance(events[0], Rejected):
            self._anomaly(f"add_rejected_{events[0].reason.value}")
            return
        self.added = (order_id, side, price)

    def _reduce(self, order_id: int, side: Side, price: int, size: int, delete: bool) -> None:
        """Type 2 (partial cancel) or 3 (delete): take `size` off the named order."""
        report = self.report
        if delete:
            report.deletes += 1
        else:
            report.partial_cancels += 1
        order = self.book.order(order_id)
        if order is None:
            report.unknown_order_messages += 1
            self._take_volume(side, price, size)
            return
        if order.price != price or order.side is not side:
            self._anomaly("order_price_or_side_differs")
        # The level loses exactly `size`, whatever the book thinks the order holds: an uncertain
        # order's quantity can be off (changed unseen outside the window, or trimmed in place
        # of another order), while the level's total was checked against the row.
        qty = order.qty
        if size != qty and (delete or size > qty):
            self._size_differs(order_id)
        self._shrink(order_id, qty, min(size, qty) if not delete else qty)
        if size > qty:
            self._take_volume(order.side, order.price, size - qty)
        elif delete and size < qty:
            # what the order held beyond `size` belongs to orders of unknown age: put it at the
            # front, so that no order behind it can pass for the head of the queue
            self._add_anonymous(order.side, order.price, qty - size, front=True)

    def _execute(self, order_id: int, side: Side, price: int, size: int) -> None:
        """Type 4: the named resting order traded `size` at its price."""
        report = self.report
        report.executions += 1
        book = self.book
        order = book.order(order_id)
        best = book.best_bid() if side is BUY else book.best_ask()
        if order is None:
            report.unknown_order_messages += 1
            # anonymous volume: match it when it heads the best level, else take it directly
            if best == price:
                head = book.level(side, price)[0]
                if head.order_id < 0 and head.qty >= size:
                    self._match(head.order_id, side, price, size)
                    return
            self._take_volume(side, price, size)
            return
        if order.price != price or order.side is not side:
            self._anomaly("order_price_or_side_differs")
            side, price = order.side, order.price
        fill = size
        if size > order.qty:
            self._size_differs(order_id)
            fill = order.qty
        queue = book.level(side, price)
        uncertain = self.uncertain
        ahead = []
        for o in queue:
            if o.order_id == order_id:
                break
            ahead.append(o.order_id)
        at_best = best == price
        if not at_best:
            ahead.extend(self._better_ids(side, price))
        if not ahead:
            report.fifo_checkable += 1
            report.fifo_head += 1
        elif all(i >= 0 and i not in uncertain for i in ahead):
            report.fifo_checkable += 1
            report.fifo_exceptions += 1
        if not ahead and at_best:
            self._match(order_id, side, price, fill)
        else:
            self._shrink(order_id, order.qty, fill)
        if fill < size:
            self._take_volume(side, price, size - fill)

    def _match(self, maker_id: int, side: Side, price: int, size: int) -> None:
        """Execute `size` of the order heading the best level through matching, and check it."""
        report = self.report
        taker_id = self._new_id()
        events = self.book.limit(taker_id, side.opposite, price, size, TAKER, IOC,
                                 time=self.time)
        report.executions_matched += 1
        trades = events[1:]
        if (len(trades) != 1 or type(trades[0]) is not Trade
                or trades[0].maker_order_id != maker_id or trades[0].qty != size
                or trades[0].price != price):
            report.trade_check_failures += 1
        if maker_id not in self.book:
            self.uncertain.discard(maker_id)

    def _better_ids(self, side: Side, price: int) -> list[int]:
        """Ids of every order at a better price than `price` on `side`."""
        book = self.book
        depth = 8
        while True:
            bids, asks = book.depth(depth)
            levels = bids if side is BUY else asks
            better = [p for p, _ in levels if (p > price if side is BUY else p < price)]
            if len(better) < len(levels) or len(levels) < depth:
                break
            depth *= 4
        return [o.order_id for p in better for o in book.level(side, p)]

    # ------------------------------------------------------------------ volume bookkeeping

    def _shrink(self, order_id: int, qty: int, by: int) -> None:
        """Lower a known order's open quantity by `by` (cancel it when nothing is left)."""
        book = self.book
        if by >= qty:
            book.cancel(order_id, time=self.time)
            self.uncertain.discard(order_id)
        elif by > 0:
            book.amend(order_id, qty=qty - by, time=self.time)

    def _take_volume(self, side: Side, price: int, size: int) -> int:
        """Remove `size` of volume nobody names at a price: anonymous first, then uncertain.

        Returns how much could not be found (counted as an anomaly when not zero).
        """
        left = self._trim(side, price, size, certain_too=False)
        if left:
            self._anomaly("volume_not_found", left)
        return left

    def _trim(self, side: Side, price: int, size: int, certain_too: bool) -> int:
        """Remove `size` at a level and return what could not be found.

        Anonymous volume goes first (oldest first), then uncertain orders (newest first), then,
        if `certain_too`, certain orders (newest first).
        """
        queue = self.book.level(side, price)
        uncertain = self.uncertain
        anon = [o for o in queue if o.order_id < 0]
        unsure = [o for o in reversed(queue) if o.order_id in uncertain]
        order = anon + unsure
        if certain_too:
            order += [o for o in reversed(queue) if o.order_id >= 0 and o.order_id not in uncertain]
        for o in order:
            if size <= 0:
                break
            by = min(size, o.qty)
            self._shrink(o.order_id, o.qty, by)
            size -= by
        return size

    def _size_differs(self, order_id: int) -> None:
        """A message's size disagrees with the named order's open quantity.

        Expected for an uncertain order that a trim cut instead of another (the data cannot
        say which order at a level was cancelled unseen); an anomaly for any other order.
        """
        if order_id in self.uncertain:
            self.report.uncertain_size_corrections += 1
        else:
            self._anomaly("message_size_differs_from_order")

    def _add_anonymous(self, side: Side, price: int, qty: int, front: bool = False) -> None:
        """Rest `qty` of volume nobody has named at the tail (or the front) of a level.

        The book only appends; to reach the front, the level's orders leave and come back in
        their order behind the new one.
        """
        book = self.book
        time = self.time
        behind = book.level(side, price) if front else []
        for o in behind:
            book.cancel(o.order_id, time=time)
        events = book.limit(self._new_id(), side, price, qty, None, post_only=True, time=time)
        if isinstance(events[0], Rejected):
            self._anomaly("anonymous_volume_rejected")
        for o in behind:
            book.limit(o.order_id, side, price, o.qty, o.owner, o.tif, post_only=True,
                       channel=o.channel, time=o.time)

    def _new_id(self) -> int:
        self.next_id -= 1
        return self.next_id + 1

    def _anomaly(self, name: str, n: int = 1) -> None:
        self.anomalies[name] = self.anomalies.get(name, 0) + n

    # ------------------------------------------------------------------ the row check

    def _parse(self, line: str, lineno: int) -> BookRow:
        try:
            return parse_row(line, self.levels)
        except ValueError as exc:
            raise row_error(self.rows_src, lineno + self.row_skip, line, exc) from None

    def _check(self, line: str, lineno: int) -> None:
        """Compare the book with the row at trusted prices, then reconcile the whole window.

        The common case, a window that matches the row exactly, is found by comparing the
        line with the one LOBSTER would write for the book, without parsing it.
        """
        book = self.book
        prev = self.prev
        levels = self.levels
        bids, asks = book.depth(levels + 1)
        if line == format_row(asks, bids, levels):
            # The book's window is the row: nothing to count or fix. The levels beyond it that
            # were inside the previous window are then all in asks[levels:] / bids[levels:]:
            # the book held exactly the previous row's levels inside that window, and one
            # message adds at most one level, so at most one lies beyond this row's N levels.
            ask_hi = asks[levels - 1][0] if len(asks) >= levels else ASK_EMPTY
            bid_lo = bids[levels - 1][0] if len(bids) >= levels else 0
            if prev is not None:
                if ask_hi < prev[0]:
                    self._leave(SELL, [p for p, _ in asks[levels:] if p <= prev[0]])
                if bid_lo > prev[1]:
                    self._leave(BUY, [p for p, _ in bids[levels:] if p >= prev[1]])
        else:
            row = self._parse(line, lineno)
            ask_hi, bid_lo = row.ask_hi, row.bid_lo
            self._compare_and_fix(bids, asks, row, levels + 1)
            if prev is not None:
                if ask_hi < prev[0]:
                    self._leave(SELL, self._prices_between(SELL, ask_hi, prev[0]))
                if bid_lo > prev[1]:
                    self._leave(BUY, self._prices_between(BUY, prev[1], bid_lo))
        added = self.added
        if added is not None:
            self.added = None
            order_id, side, price = added
            outside = price > ask_hi if side is SELL else price < bid_lo
            if outside and order_id in book and order_id not in self.uncertain:
                self.uncertain.add(order_id)
                self.uncertain_marked += 1
        self.prev = (ask_hi, bid_lo)

    def _compare_and_fix(self, bids: list[tuple[int, int]], asks: list[tuple[int, int]],
                         row: BookRow, want: int) -> None:
        """Count the row's mismatches at trusted prices, then fix every level in its window."""
        report = self.report
        prev = self.prev
        row_asks, row_bids, ask_hi, bid_lo = row
        if prev is None:  # the first row: nothing to compare with yet
            trusted_hi, trusted_lo = 0, ASK_EMPTY
        else:
            trusted_hi = min(prev[0], ask_hi)
            trusted_lo = max(prev[1], bid_lo)
            if ((asks[0][0] if asks else None) != (row_asks[0][0] if row_asks else None)
                    or (bids[0][0] if bids else None) != (row_bids[0][0] if row_bids else None)):
                report.best_price_mismatch_rows += 1
            if ([lv for lv in asks if lv[0] <= trusted_hi]
                    != [lv for lv in row_asks if lv[0] <= trusted_hi]
                    or [lv for lv in bids if lv[0] >= trusted_lo]
                    != [lv for lv in row_bids if lv[0] >= trusted_lo]):
                report.mismatch_rows += 1
        # bring every price inside this row's window in line with the row
        ask_fix = self._diff(SELL, asks, row_asks, ask_hi, want)
        bid_fix = self._diff(BUY, bids, row_bids, bid_lo, want)
        if ask_fix or bid_fix:
            fixes = ask_fix + bid_fix
            fixes.sort(key=lambda f: f[3] > f[2])  # shrink before growing: never cross
            for side, price, have, need in fixes:
                trusted = price <= trusted_hi if side is SELL else price >= trusted_lo
                if trusted:
                    report.resynced_levels += 1
                else:
                    report.refilled_levels += 1
                if need < have:
                    report.trimmed_volume += have - need
                    self._trim(side, price, have - need, certain_too=True)
                else:
                    report.refilled_volume += need - have
                    self._add_anonymous(side, price, need - have)

    def _diff(self, side: Side, ours: list[tuple[int, int]], theirs: list[tuple[int, int]],
              bound: int, want: int) -> list[tuple[Side, int, int, int]]:
        """The levels inside the window where the book differs from the row."""
        inside = (lambda p: p <= bound) if side is SELL else (lambda p: p >= bound)
        if len(ours) == want and inside(ours[-1][0]):
            # the book holds more levels inside the window than we fetched: fetch them all
            n = want
            while True:
                n *= 4
                bids, asks = self.book.depth(n)
                ours = asks if side is SELL else bids
                if len(ours) < n or not inside(ours[-1][0]):
                    break
        mine = [lv for lv in ours if inside(lv[0])]
        if mine == theirs:
            return []
        have = dict(mine)
        need = dict(theirs)
        return [(side, p, have.get(p, 0), need.get(p, 0))
                for p in sorted(have.keys() | need.keys())
                if have.get(p, 0) != need.get(p, 0)]

    def _prices_between(self, side: Side, lo: int, hi: int) -> list[int]:
        """Prices of the book's levels on `side` in the band that just left the window.

        For asks the band is `lo < price <= hi`; for bids `lo <= price < hi`.
        """
        book = self.book
        n = self.levels + 4
        while True:
            bids, asks = book.depth(n)
            levels = asks if side is SELL else bids
            if len(levels) < n or (levels[-1][0] > hi if side is SELL else levels[-1][0] < lo):
                break
            n *= 4
        if side is SELL:
            return [p for p, _ in levels if lo < p <= hi]
        return [p for p, _ in levels if lo <= p < hi]

    def _leave(self, side: Side, prices: list[int]) -> None:
        """Mark the known orders at prices that just left the window uncertain."""
        uncertain = self.uncertain
        level = self.book.level
        for price in prices:
            for o in level(side, price):
                if o.order_id >= 0 and o.order_id not in uncertain:
                    uncertain.add(o.order_id)
                    self.uncertain_marked += 1
