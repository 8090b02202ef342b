"""The journal: every command is recorded in execution order and replays to the same run.

Replays are compared byte for byte: the msgpack encoding of every event, of each product's
book snapshot and of the whole exchange snapshot, and the exchange's id counter (which the
snapshot leaves out), so that the next id handed out is the same too.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import (
    Accepted,
    Amended,
    AuctionUncrossed,
    BlockAuctionOpened,
    BlockAuctionSettled,
    BlockAuctionWithdrawn,
    BlockBidWithdrawn,
    Cancelled,
    Channel,
    DaySettled,
    Exchange,
    ExchangeSettings,
    Expired,
    Journal,
    JournalError,
    JournalingExchange,
    OrderBook,
    Product,
    Rejected,
    SelfTradePolicy,
    SessionState,
    Side,
    TimeInForce,
    Trade,
    TradePriceRule,
    apply_command,
    read_journal,
    replay,
)
from engine import journal as journal_module
from engine.journal import (
    COMMANDS,
    FORMAT_VERSION,
    MAX_RECORD_BYTES,
    BeginDay,
    CloseMarket,
    IdsUsed,
    JournalHeader,
    OpenMarket,
    SubmitLimit,
)

BUY, SELL = Side.BUY, Side.SELL
IOC, FOK, DAY = TimeInForce.IOC, TimeInForce.FOK, TimeInForce.DAY
OFFLINE = Channel.OFFLINE
PRND = Product("PRND_OX", "PrNd oxide", tick=100, lot=1000, reference_price=400_000, band_pct=5,
               min_block=5000)
LA = Product("LA_OX", "La oxide", tick=10, lot=5000, reference_price=4_000, band_pct=5)
FRAME = struct.Struct(">II")
encode = msgspec.msgpack.encode


def frames(data: bytes) -> list[tuple[int, int]]:
    """(offset, frame length) of every whole frame in a journal."""
    out, offset = [], 0
    while offset + FRAME.size <= len(data):
        length, _ = FRAME.unpack_from(data, offset)
        if offset + FRAME.size + length > len(data):
            break
        out.append((offset, FRAME.size + length))
        offset += FRAME.size + length
    return out


def frame(payload: bytes) -> bytes:
    return FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def assert_same_run(original: Exchange, heard: list, replayed) -> None:
    """The replay heard the same events and ended in the same state, byte for byte."""
    assert encode(replayed.events) == encode(heard)
    rebuilt = replayed.exchange
    for p in original.products:
        assert encode(rebuilt.book(p.code).snapshot()) == encode(original.book(p.code).snapshot())
    assert encode(rebuilt.snapshot()) == encode(original.snapshot())
    assert rebuilt._next_id == original._next_id  # the snapshot leaves the id counter out


def started(**settings) -> tuple[JournalingExchange, list, io.BytesIO]:
    f = io.BytesIO()
    ex = JournalingExchange([PRND, LA], ExchangeSettings(**settings), journal=f)
    heard: list = []
    ex.subscribe(heard.append)
    return ex, heard, f


def first(events, kind):
    return next(e for e in events if type(e) is kind)


def session(ex: Exchange) -> None:
    """A scripted session with every command kind, refusals, auctions, blocks and suspensions."""
    for m in ("separator", "magnet", 7, "trader", "idle"):
        ex.add_member(m)
    ex.add_member("late", joined=10_000)
    # closed: refused, yet the refusal uses up an id
    ex.submit_limit("magnet", "PRND_OX", BUY, 400_000, 1000, time=1)
    ex.begin_day(time=10)
    # the call auction
    ex.submit_limit("separator", "PRND_OX", SELL, 399_000, 5000, time=11)
    ex.submit_limit("magnet", "PRND_OX", BUY, 401_000, 3000, time=12, channel=OFFLINE)
    ex.submit_limit("magnet", "PRND_OX", BUY, 401_000, 3000, tif=IOC, time=13)  # not in auction
    day7 = ex.submit_limit(7, "PRND_OX", BUY, 400_000, 2000, tif=DAY, time=14)[0].order_id
    ex.amend(7, day7, qty=1000, time=15)  # keeps priority
    ex.cancel("magnet", day7, time=16)  # NOT_OWNER
    ex.submit_limit("nobody", "PRND_OX", BUY, 400_000, 1000, time=17)  # UNKNOWN_MEMBER, no id
    ex.submit_limit("late", "PRND_OX", BUY, 400_000, 1000, time=18)  # MEMBER_NOT_JOINED
    ex.submit_market("magnet", "PRND_OX", BUY, 1000, time=19)  # no market orders in auction
    ex.submit_limit("trader", "LA_OX", SELL, 4_010, 10_000, time=19)
    ex.open_market(time=20)
    # continuous trading
    ask = ex.submit_limit("separator", "PRND_OX", SELL, 402_000, 4000, time=21)[0].order_id
    ex.submit_limit("trader", "PRND_OX", BUY, 402_000, 2000, tif=IOC, time=22)
    ex.submit_limit("trader", "PRND_OX", BUY, 410_000, 50_000, tif=FOK, time=23)  # FOK refused
    ex.submit_limit("trader", "PRND_OX", SELL, 401_000, 1000, post_only=True, time=24)
    ex.submit_limit("trader", "PRND_OX", BUY, 380_000, 1000, time=25, order_id=5000)
    ex.submit_limit("trader", "PRND_OX", BUY, 380_000, 1000, time=26, order_id=5000)  # duplicate
    ex.submit_limit("trader", "PRND_OX", BUY, 300_000, 1000, time=27)  # outside the band
    ex.submit_market("magnet", "PRND_OX", BUY, 1000, time=28, channel=OFFLINE)
    ex.submit_market("magnet", "LA_OX", SELL, 5000, protection=4_000, time=29)  # no bids
    ex.amend("separator", ask, price=403_000, time=30)  # loses priority
    ex.amend("separator", ask, qty=1000, time=31)
    ex.amend("separator", ask, price=403_000, qty=1000, time=32)  # AMEND_NO_CHANGE
    ex.submit_limit("idle", "PRND_OX", SELL, 404_000, 3000, tif=DAY, time=32)  # will expire
    ex.cancel("separator", ask, time=33)
    ex.cancel("separator", ask, time=34)  # gone: UNKNOWN_ORDER
    ex.register_negotiated("magnet", "separator", "PRND_OX", 400_000, 20_000, time=35)
    ex.register_negotiated("magnet", "separator", "PRND_OX", 400_000, 1000, time=36)  # small
    ex.register_negotiated("magnet", "magnet", "PRND_OX", 400_000, 20_000, time=37)
    # rule changes: a closed channel refuses new requests; a band rule waits for the next day
    ex.set_channel_open(OFFLINE, False, time=37)
    ex.submit_limit("magnet", "PRND_OX", BUY, 399_000, 1000, channel=OFFLINE, time=37)
    ex.register_negotiated("magnet", "separator", "PRND_OX", 400_000, 20_000, time=37)
    ex.set_channel_open(OFFLINE, True, time=38)
    ex.set_band("PRND_OX", band_pct=10)
    ex.set_band("GOLD", band_pct=10, band_abs=None)  # UNKNOWN_PRODUCT
    # block auctions
    a = ex.open_block_auction("separator", "PRND_OX", 30_000, 390_000, start=40, end=50,
                              time=38)[0].auction_id
    ex.bid_block_auction("magnet", a, 395_000, 10_000, time=41)
    ex.bid_block_auction(7, a, 396_000, 25_000, time=42, channel=OFFLINE)
    ex.bid_block_auction("trader", a, 380_000, 5000, time=43)  # below the reserve
    ex.bid_block_auction("separator", a, 395_000, 5000, time=43)  # the seller
    ex.settle_block_auction(a, time=45)  # not ended
    ex.settle_block_auction(a, time=50)
    ex.settle_block_auction(a, time=51)  # settled already
    ex.open_block_auction("trader", "LA_OX", 10_000, 4_000, start=50, end=50)  # bad window
    b = ex.open_block_auction("trader", "LA_OX", 20_000, 3_900, start=51, end=60,
                              uniform=True)[0].auction_id
    c = ex.open_block_auction("separator", "LA_OX", 20_000, 3_900, start=51, end=60,
                              channel=OFFLINE)[0].auction_id
    ex.bid_block_auction(7, c, 4_000, 10_000, time=52)
    ex.bid_block_auction("magnet", c, 3_950, 10_000, time=53)
    ex.bid_block_auction("magnet", b, 3_950, 10_000, time=53)
    ex.submit_limit(7, "PRND_OX", SELL, 405_000, 2000, time=54)
    # suspensions: orders cancelled, the seller's auction withdrawn, the bidder's bids removed
    ex.suspend_member("trader", time=55)
    ex.suspend_member(7, time=56)
    ex.submit_limit(7, "PRND_OX", SELL, 405_000, 2000, time=57)  # MEMBER_SUSPENDED
    ex.bid_block_auction("magnet", b, 3_960, 5000, time=57)  # AUCTION_WITHDRAWN
    ex.reinstate_member(7)
    ex.reinstate_member("ghost")  # UNKNOWN_MEMBER
    ex.suspend_member("ghost", time=58)
    ex.settle_block_auction(b, time=60)  # withdrawn
    ex.settle_block_auction(c, time=60)
    ex.settle_block_auction(99_999, time=60)  # unknown
    ex.close_market(time=70, products=["LA_OX"])
    ex.close_market(time=71, products=["PRND_OX"])
    # a second day: GTC orders carried into the call auction
    ex.begin_day(time=100)
    ex.submit_limit("magnet", "PRND_OX", SELL, 379_000, 1000, time=101)
    ex.submit_limit("separator", "PRND_OX", BUY, 365_000, 1000, time=102)  # the 10% band
    ex.open_market(time=110)
    ex.close_market(time=120)


ALL_KINDS = {Accepted, Rejected, Trade, Cancelled, Amended, Expired, AuctionUncrossed, DaySettled,
             BlockAuctionOpened, BlockAuctionSettled, BlockAuctionWithdrawn, BlockBidWithdrawn}


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("settings", [
    {},
    {"stp": SelfTradePolicy.CANCEL_BOTH, "trade_price": TradePriceRule.MEDIAN,
     "auction_tie_break": "imbalance", "block_uniform_price": True},
])
def test_a_session_with_every_command_kind_replays_to_the_same_events_books_and_ids(settings):
    ex, heard, f = started(**settings)
    session(ex)
    ex.close()
    contents = read_journal(f.getvalue())
    kinds = {type(c) for c in contents.commands}
    assert kinds == set(COMMANDS) - {IdsUsed}  # every command kind, and no id repairs
    assert {type(e) for e in heard} >= ALL_KINDS
    assert len({e.reason for e in heard if type(e) is Rejected}) >= 15
    assert contents.header == JournalHeader(FORMAT_VERSION, [PRND, LA], ex.settings)
    assert contents.dropped_bytes == 0
    replayed = replay(f.getvalue())
    assert_same_run(ex, heard, replayed)
    assert replayed.report.complete and replayed.report.commands == len(contents.commands)
    assert replayed.report.events == len(heard)
    assert replayed.report.valid_bytes == len(f.getvalue())


def test_refused_requests_are_journaled_so_the_ids_they_used_up_are_used_up_on_replay():
    ex, heard, f = started()
    ex.add_member(1)
    ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, time=1)  # closed: Rejected(order_id=1)
    ex.begin_day(time=2)
    ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, tif=IOC, time=3)  # Rejected(order_id=2)
    ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, time=4)
    ex.close()
    assert [e.order_id for e in heard if type(e) in (Rejected, Accepted)] == [1, 2, 3]
    replayed = replay(f.getvalue())
    assert_same_run(ex, heard, replayed)
    assert first(replayed.events, Accepted).order_id == 3


def test_records_hold_every_argument_exactly_with_enums_and_big_integers():
    ex, _, f = started()
    ex.add_member(2**63 - 1, joined=-(2**63))
    ex.add_member("m")
    ex.begin_day(time=2**63 - 1, products=("LA_OX",))  # any iterable of codes becomes a list
    ex.submit_limit("m", "PRND_OX", SELL, 401_000, 1000, tif=DAY, post_only=True,
                    channel=OFFLINE, time=5, order_id=2**62)
    ex.close()
    commands = read_journal(f.getvalue()).commands
    assert commands[2].products == ["LA_OX"]
    assert commands[3] == SubmitLimit("m", "PRND_OX", SELL, 401_000, 1000, DAY, True, OFFLINE, 5,
                                      2**62)
    assert type(commands[3].side) is Side and type(commands[3].channel) is Channel
    assert commands[0].member_id == 2**63 - 1 and commands[0].joined == -(2**63)


def test_requests_a_listener_makes_from_its_callback_are_journaled_in_execution_order():
    f = io.BytesIO()
    ex = JournalingExchange([PRND], journal=f)
    heard: list = []

    def market_maker(event):
        heard.append(event)
        # at the open, and after each of its fills, the market maker quotes again
        if type(event) is AuctionUncrossed or (type(event) is Trade and event.maker_owner == "mm"
                                               and len(heard) < 60):
            ex.submit_limit("mm", "PRND_OX", SELL, 401_000, 1000, time=event.time)
            ex.submit_limit("mm", "PRND_OX", BUY, 399_000, 1000, time=event.time)

    ex.subscribe(market_maker)
    for m in ("mm", "taker"):
        ex.add_member(m)
    ex.begin_day(time=1)
    ex.open_market(time=2)
    for t in range(3, 8):
        ex.submit_market("taker", "PRND_OX", BUY if t % 2 else SELL, 1000, time=t)
    ex.close_market(time=9)
    ex.close()
    kinds = [type(c).__name__ for c in read_journal(f.getvalue()).commands]
    assert kinds[:6] == ["AddMember", "AddMember", "BeginDay", "OpenMarket", "SubmitLimit",
                         "SubmitLimit"]
    # each taker's request, then the two quotes its fill provoked, then the next request
    assert kinds[6:-1] == ["SubmitMarket", "SubmitLimit", "SubmitLimit"] * 5
    replayed = replay(f.getvalue())
    assert_same_run(ex, heard, replayed)


def test_a_listener_that_raises_leaves_its_request_journaled():
    ex, heard, f = started()
    ex.add_member(1)
    ex.begin_day(time=1)

    def fussy(event):
        if type(event) is Accepted:
            raise RuntimeError("listener failed")

    ex.subscribe(fussy)
    with pytest.raises(RuntimeError):
        ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, time=2)  # applied, then fussy raised
    ex.close()
    assert type(read_journal(f.getvalue()).commands[-1]) is SubmitLimit
    assert_same_run(ex, heard, replay(f.getvalue()))


def test_replay_delivers_every_event_to_its_listener_and_apply_command_steps_through():
    ex, heard, f = started()
    session(ex)
    ex.close()
    data = f.getvalue()
    delivered: list = []
    replayed = replay(data, delivered.append, keep_events=False)
    assert replayed.events == [] and replayed.report.events == len(heard)
    assert encode(delivered) == encode(heard)
    contents = read_journal(data)
    stepped = Exchange(contents.header.products, contents.header.settings)
    events = [e for c in contents.commands for e in apply_command(stepped, c)]
    assert encode(events) == encode(heard)
    assert encode(stepped.snapshot()) == encode(ex.snapshot())


def test_journals_are_read_from_paths_bytes_and_binary_files(tmp_path):
    path = tmp_path / "run.journal"
    with JournalingExchange([PRND], journal=path) as ex:
        ex.add_member(1)
        ex.begin_day(time=1)
    data = path.read_bytes()
    assert ex.journal.closed
    for source in (lambda: path, lambda: str(path), lambda: data, lambda: bytearray(data),
                   lambda: io.BytesIO(data)):
        assert len(read_journal(source()).commands) == 2
        assert replay(source()).exchange.state("PRND_OX") is SessionState.PRE_OPEN
    with open(path, "rb") as f:
        assert replay(f).exchange.state("PRND_OX") is SessionState.PRE_OPEN


def test_is_journal_tells_a_journal_from_any_other_file_by_its_first_record(tmp_path):
    path = tmp_path / "run.journal"
    with JournalingExchange([PRND], journal=path) as ex:
        ex.add_member(1)
    data = path.read_bytes()
    assert journal_module.is_journal(path)
    others = {"text.csv": b"time,price\n1,2\n", "empty": b"", "torn": data[:6],
              "cut-header": data[:12], "msgpack": msgspec.msgpack.encode(["other", 1])}
    for name, content in others.items():
        (tmp_path / name).write_bytes(content)
        assert not journal_module.is_journal(tmp_path / name), name
    assert not journal_module.is_journal(tmp_path / "missing")
    assert not journal_module.is_journal(tmp_path)  # a directory


# ------------------------------------------------------------------ random sessions

MEMBERS = [1, 2, 3, "late", "nobody"]
member_ids = st.sampled_from([1, 2, 3] * 3 + ["late", "nobody"])
codes = st.sampled_from(["PRND_OX", "LA_OX"])
sides = st.sampled_from([BUY, SELL])
steps = st.integers(-12, 12)
lots = st.sampled_from([1, 2, 3, 1, 0])  # 0 lots is a bad quantity
picks = st.integers(0, 100)
PARAMS = {
    "session": st.tuples(st.sampled_from([None, None, None, "PRND_OX"])),
    "limit": st.tuples(member_ids, codes, sides, steps, lots,
                       st.sampled_from([TimeInForce.GTC] * 4 + list(TimeInForce)),
                       st.sampled_from([False] * 5 + [True]),
                       st.sampled_from([None] * 6 + [7, 10**6])),
    "market": st.tuples(member_ids, codes, sides, lots, st.one_of(st.none(), steps)),
    "cancel": st.tuples(member_ids, picks),
    "amend": st.tuples(member_ids, picks, st.one_of(st.none(), steps),
                       st.one_of(st.none(), lots)),
    "negotiate": st.tuples(member_ids, member_ids, codes, steps, st.integers(0, 12)),
    "open_block": st.tuples(member_ids, codes, lots, st.integers(0, 20)),
    "bid_block": st.tuples(member_ids, picks, steps, lots),
    "settle_block": st.tuples(picks),
    "membership": st.tuples(st.sampled_from([1, 2, 3, "ghost"]), st.booleans()),
}
WEIGHTS = {"limit": 8, "session": 2, "market": 2, "cancel": 2, "amend": 2, "bid_block": 2,
           "open_block": 2, "negotiate": 1, "settle_block": 1, "membership": 1}
ops = st.sampled_from([k for k, w in WEIGHTS.items() for _ in range(w)]).flatmap(
    lambda kind: PARAMS[kind].map(lambda params: (kind, *params)))


def drive(ex: JournalingExchange, script: list) -> None:
    """Run a drawn script; requests that raise for misuse (session steps) are skipped."""
    ids: list[int] = []
    auctions: list[int] = []
    clock = 0

    def price(code: str, step: int) -> int:
        """Around the middle of today's band; the widest steps fall outside it."""
        low, high = ex.band(code)
        tick = ex.product(code).tick
        return (low + high) // 2 // tick * tick + step * tick * (20 if code == "PRND_OX" else 2)

    def pick(pool: list[int], i: int) -> int:
        return pool[i % len(pool)] if pool else 12345

    ex.begin_day(time=clock)  # the drawn session steps take the day on from here
    for m, code, side, step in ((1, "PRND_OX", BUY, -1), (2, "PRND_OX", SELL, 1),
                                (1, "LA_OX", SELL, 1), (3, "LA_OX", BUY, -1)):
        ex.submit_limit(m, code, side, price(code, step), ex.product(code).lot, time=clock)
    ex.open_market(time=clock)

    for op in script:
        clock += 1
        kind, *a = op
        if kind == "session":
            state = ex.state(a[0] or "LA_OX")
            step = {SessionState.CLOSED: ex.begin_day, SessionState.PRE_OPEN: ex.open_market,
                    SessionState.CONTINUOUS: ex.close_market}[state]
            try:
                out = step(time=clock, products=None if a[0] is None else [a[0]])
            except ValueError:  # products in different states: misuse, not journaled
                continue
        elif kind == "limit":
            m, code, side, step, n, tif, post_only, oid = a
            out = ex.submit_limit(m, code, side, price(code, step), n * ex.product(code).lot,
                                  tif=tif, post_only=post_only and n == 1, time=clock,
                                  order_id=oid, channel=OFFLINE if n == 2 else Channel.ONLINE)
        elif kind == "market":
            m, code, side, n, step = a
            out = ex.submit_market(m, code, side, n * ex.product(code).lot, time=clock,
                                   protection=None if step is None else price(code, step))
        elif kind == "cancel":
            oid = pick(ids, a[1])
            o = ex.order(oid)
            out = ex.cancel(o.owner if o is not None and a[0] != "nobody" else a[0], oid,
                            time=clock)
        elif kind == "amend":
            m, i, step, n = a
            oid = pick(ids, i)
            o = ex.order(oid)
            code = ex.order_product(oid) or "PRND_OX"
            out = ex.amend(o.owner if o is not None and m != "nobody" else m, oid,
                           price=None if step is None else price(code, step),
                           qty=None if n is None else n * ex.product(code).lot, time=clock)
        elif kind == "negotiate":
            buyer, seller, code, step, n = a
            out = ex.register_negotiated(buyer, seller, code, price(code, step),
                                         n * ex.product(code).lot, time=clock)
        elif kind == "open_block":
            m, code, n, length = a
            out = ex.open_block_auction(m, code, n * 5 * ex.product(code).lot, price(code, -6),
                                        start=clock, end=clock + length)
        elif kind == "bid_block":
            m, i, step, n = a
            aid = pick(auctions, i)
            auction = ex.block_auction(aid)
            code = auction.product if auction is not None else "PRND_OX"
            out = ex.bid_block_auction(m, aid, price(code, step), n * ex.product(code).lot,
                                       time=clock)
        elif kind == "settle_block":
            out = ex.settle_block_auction(pick(auctions, a[0]), time=clock)
        else:
            m, suspend = a
            out = ex.suspend_member(m, time=clock) if suspend else ex.reinstate_member(m)
        for e in out:
            if type(e) is Accepted:
                ids.append(e.order_id)
            elif type(e) is BlockAuctionOpened:
                auctions.append(e.auction_id)


@given(
    script=st.lists(ops, min_size=20, max_size=100),
    settings=st.builds(ExchangeSettings, st.sampled_from(list(SelfTradePolicy)),
                       st.sampled_from(list(TradePriceRule)),
                       st.sampled_from(["reference", "imbalance"]), st.booleans()),
    reactive=st.booleans(),
)
def test_random_command_sequences_replay_to_the_same_events_books_and_ids(script, settings,
                                                                          reactive):
    f = io.BytesIO()
    ex = JournalingExchange([PRND, LA], settings, journal=f)
    heard: list = []
    reactions = [0]

    def listener(event):
        heard.append(event)
        # member 1 quotes again after each fill it makes, from inside the callback
        if reactive and type(event) is Trade and event.maker_owner == 1 and reactions[0] < 30:
            reactions[0] += 1
            ex.submit_limit(1, event.product, event.aggressor.opposite, event.price,
                            ex.product(event.product).lot, time=event.time)

    ex.subscribe(listener)
    for m in MEMBERS[:3]:
        ex.add_member(m)
    ex.add_member("late", joined=40)
    drive(ex, script)
    ex.close()
    assert_same_run(ex, heard, replay(f.getvalue()))


# ------------------------------------------------------------------ crashes and corruption


def crashed_session() -> tuple[bytes, bytes, list, int, int]:
    """A journal, the state and events before its last command, and where that command starts."""
    ex, heard, f = started()
    session(ex)
    before = (encode(ex.snapshot()), list(heard), ex._next_id)
    ex.submit_limit("magnet", "PRND_OX", BUY, 400_000, 1000, time=200)  # the last record
    ex.close()
    data = f.getvalue()
    last_start = frames(data)[-1][0]
    return data, before[0], before[1], before[2], last_start


def test_a_journal_cut_anywhere_in_its_last_record_replays_the_rest_and_reports_the_drop():
    data, state_before, heard_before, next_id_before, last_start = crashed_session()
    whole = len(read_journal(data).commands)
    for cut in range(last_start, len(data)):
        torn = data[:cut]
        contents = read_journal(torn)
        assert contents.dropped_bytes == cut - last_start
        assert len(contents.commands) == whole - 1
        replayed = replay(torn)
        assert encode(replayed.events) == encode(heard_before)
        assert encode(replayed.exchange.snapshot()) == state_before
        assert replayed.exchange._next_id == next_id_before
        report = replayed.report
        assert report.dropped_bytes == cut - last_start and report.valid_bytes == last_start
        assert report.complete is (cut == last_start)
        if cut > last_start:
            assert f"dropped {cut - last_start} bytes" in report.summary()


def test_a_last_record_damaged_by_a_crash_counts_as_dropped_not_as_corrupt():
    data, state_before, _, _, last_start = crashed_session()
    end = len(data)
    zero_tail = data[:last_start + FRAME.size + 3] + bytes(end - last_start - FRAME.size - 3)
    flipped = bytearray(data)
    flipped[-2] ^= 0x40
    for damaged, dropped in ((zero_tail, end - last_start), (bytes(flipped), end - last_start),
                             (data + bytes(40), 40), (data[:last_start] + bytes(5), 5)):
        contents = read_journal(damaged)
        assert contents.dropped_bytes == dropped
        if dropped != 40:
            assert encode(replay(damaged).exchange.snapshot()) == state_before


def test_a_corrupt_record_in_the_middle_is_an_error_naming_the_record_and_its_offset():
    data, *_ = crashed_session()
    offset, size = frames(data)[5]
    flipped = bytearray(data)
    flipped[offset + size - 1] ^= 0x01
    with pytest.raises(JournalError, match=f"record 5 at byte offset {offset} is corrupt: "
                                           f"checksum mismatch"):
        read_journal(bytes(flipped))
    with pytest.raises(JournalError, match="checksum mismatch"):
        replay(bytes(flipped))
    # a record that was written whole (its checksum holds) but is no command
    garbled = data[:offset] + frame(b"\xc1") + data[offset + size:]
    with pytest.raises(JournalError, match=f"record 5 at byte offset {offset} is corrupt: it "
                                           f"does not decode"):
        read_journal(garbled)
    unknown = data[:offset] + frame(encode(["no_such_command", 1])) + data[offset + size:]
    with pytest.raises(JournalError, match="does not decode"):
        read_journal(unknown)
    huge = data[:offset] + FRAME.pack(MAX_RECORD_BYTES + 1, 0) + data[offset + FRAME.size:]
    with pytest.raises(JournalError, match="more than any record could have"):
        read_journal(huge)
    header = data[:frames(data)[1][0]]
    with pytest.raises(JournalError, match="a second header"):
        read_journal(data[:offset] + header + data[offset:])


def small_journal() -> bytes:
    """A short real journal: members, a day with orders, trades and a close (17 frames)."""
    ex, _, f = started()
    for m in (1, 2, "m"):
        ex.add_member(m)
    ex.begin_day(time=10)
    ex.submit_limit(1, "PRND_OX", SELL, 401_000, 3000, time=11)
    ex.submit_limit(2, "PRND_OX", BUY, 399_000, 2000, time=12)
    ex.open_market(time=20)
    ex.submit_limit("m", "PRND_OX", BUY, 401_000, 1000, time=21)
    ex.submit_market(2, "PRND_OX", BUY, 1000, time=22)
    ex.amend(2, 2, price=399_500, time=23)
    ex.cancel(1, 1, time=24)
    ex.register_negotiated(2, 1, "PRND_OX", 400_000, 5000, time=25)
    ex.set_band("PRND_OX", band_pct=10)
    ex.close_market(time=30)
    ex.close()
    return f.getvalue()


SMALL = small_journal()
SMALL_CONTENTS = read_journal(SMALL)
SMALL_FRAMES = frames(SMALL)


def assert_no_silent_loss(damaged: bytes, damaged_frame: int) -> str:
    """The damaged journal reads as the original, raises JournalError, or reads as torn.

    Torn only when the damage is in the last frame: every record before it, and a drop.
    """
    try:
        contents = read_journal(damaged)
    except JournalError as exc:
        assert "\n" not in str(exc)
        return "error"
    if contents == SMALL_CONTENTS:
        return "same"
    last = len(SMALL_FRAMES) - 1
    assert damaged_frame == last, f"frame {damaged_frame} damaged, read as {contents}"
    assert contents.commands == SMALL_CONTENTS.commands[:-1]
    assert contents.dropped_bytes == len(damaged) - SMALL_FRAMES[last][0]
    return "torn"


def test_damage_to_any_length_field_is_an_error_or_a_torn_tail_never_a_silent_loss():
    outcomes = {"same": 0, "error": 0, "torn": 0}
    for index, (offset, _) in enumerate(SMALL_FRAMES):
        for byte in range(offset, offset + 4):  # the length field
            for mask in (*(1 << bit for bit in range(8)), 0xFF):
                damaged = bytearray(SMALL)
                damaged[byte] ^= mask
                outcomes[assert_no_silent_loss(bytes(damaged), index)] += 1
    assert outcomes["error"] > 0 and outcomes["torn"] > 0  # the last frame's damage is a tear


@given(position=st.integers(0, len(SMALL) - 1), mask=st.integers(1, 255))
def test_any_single_byte_of_damage_is_an_error_or_a_torn_tail_never_a_silent_loss(position,
                                                                                   mask):
    damaged = bytearray(SMALL)
    damaged[position] ^= mask
    index = max(i for i, (offset, _) in enumerate(SMALL_FRAMES) if offset <= position)
    assert_no_silent_loss(bytes(damaged), index)


def test_a_length_in_the_middle_pointing_past_the_end_is_damage_naming_record_and_offset():
    offset, size = SMALL_FRAMES[5]
    damaged = bytearray(SMALL)
    damaged[offset + 2] ^= 0x10  # 4096 more: the frame now runs past the end of the file
    with pytest.raises(JournalError, match=f"record 5 at byte offset {offset} is corrupt: "
                                           f"length .* runs past the end of the file, and a whole "
                                           f"record follows at byte offset {offset + size}"):
        read_journal(bytes(damaged))
    with pytest.raises(JournalError, match="record 5"):
        replay(bytes(damaged))


def handmade(*commands) -> bytes:
    """A journal of the given command records, written directly (no exchange checks them)."""
    f = io.BytesIO()
    journal = Journal(f)
    journal.start(JournalHeader(FORMAT_VERSION, [PRND, LA], ExchangeSettings()))
    for command in commands:
        journal.append(command)
    journal.close()
    return f.getvalue()


@pytest.mark.parametrize("commands, said", [
    ((BeginDay(1, None), BeginDay(2, None)), "ValueError: begin_day: product PRND_OX is "
                                             "pre_open; close_market first"),
    ((BeginDay(1, ["GOLD"]),), "KeyError: unknown product 'GOLD'"),
    ((OpenMarket(1, None),), "ValueError: open_market: product PRND_OX is closed; begin_day first"),
])
def test_a_command_the_exchange_refuses_is_a_journal_error_naming_the_record(commands, said):
    data = handmade(*commands)
    offset = frames(data)[len(commands)][0]
    tag = type(commands[-1]).__struct_config__.tag
    with pytest.raises(JournalError) as err:
        replay(data)
    assert str(err.value) == (f"journal: record {len(commands)} at byte offset {offset} ({tag}): "
                              f"the exchange refused it: {said}")
    exchange = Exchange([PRND, LA])
    for i, command in enumerate(commands[:-1], start=1):
        apply_command(exchange, command, record=i)
    with pytest.raises(JournalError, match=f"record {len(commands)} \\({tag}\\): the exchange "
                                           f"refused it"):
        apply_command(exchange, commands[-1], record=len(commands))


def test_a_listener_that_raises_during_replay_is_not_taken_for_a_refusal():
    def fussy(event):
        raise ValueError("listener bug")

    with pytest.raises(ValueError, match="listener bug") as err:
        replay(SMALL, fussy)
    assert type(err.value) is ValueError and "while replaying record 4" in err.value.__notes__[0]


def test_what_is_not_a_whole_journal_is_refused_with_one_clear_line(tmp_path):
    data, *_ = crashed_session()
    header_size = frames(data)[0][1]
    for bad, message in (
        (b"", "no complete header record"),
        (data[:header_size - 1], "no complete header record"),
        (b"time,price,qty\n1,400000,1000\n", "not a rexsim journal"),
        (frame(encode(["something-else", 1])) + data[header_size:], "not a rexsim journal"),
        (frame(encode(["rexsim-journal", FORMAT_VERSION + 1, [], {}])),
         f"journal format version {FORMAT_VERSION + 1}; this rexsim reads version 1"),
    ):
        path = tmp_path / "bad.journal"
        path.write_bytes(bad)
        with pytest.raises(JournalError, match=message) as err:
            read_journal(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------ writing


def test_the_batch_reaches_the_file_at_each_close_so_a_crash_loses_at_most_the_open_day(tmp_path):
    path = tmp_path / "run.journal"
    ex = JournalingExchange([PRND], journal=path)
    ex.add_member(1)
    ex.begin_day(time=1)
    ex.open_market(time=2)
    ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, time=3)
    assert read_journal(path).commands == []  # only the header is on disk yet
    ex.close_market(time=4)
    at_close = encode(ex.snapshot())
    on_disk = read_journal(path)
    assert type(on_disk.commands[-1]) is CloseMarket and on_disk.dropped_bytes == 0
    ex.begin_day(time=5)  # the next day is still in memory when the "crash" comes
    ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, time=6)
    assert encode(replay(path).exchange.snapshot()) == at_close
    ex.journal.flush()
    assert len(read_journal(path).commands) == len(on_disk.commands) + 2
    ex.close()


def test_a_journal_with_no_buffer_writes_each_command_as_it_completes():
    f = io.BytesIO()
    ex = JournalingExchange([PRND], journal=Journal(f, buffer_size=0))
    ex.add_member(1)
    ex.begin_day(time=1)
    assert [type(c).__name__ for c in read_journal(f.getvalue()).commands] == ["AddMember",
                                                                                "BeginDay"]
    ex.close()
    assert not f.closed  # a file the caller opened stays open


def test_a_closed_journal_refuses_commands_before_they_reach_the_exchange():
    ex, _, f = started()
    ex.add_member(1)
    ex.close()
    before = encode(ex.snapshot())
    with pytest.raises(ValueError, match="journal is closed"):
        ex.begin_day(time=1)
    assert encode(ex.snapshot()) == before
    ex.close()  # closing twice is harmless
    with pytest.raises(ValueError, match="already has its header"):
        JournalingExchange([PRND], journal=ex.journal)


def test_requests_that_raise_for_misuse_are_not_journaled_and_change_nothing():
    ex, heard, f = started()
    ex.add_member(1)
    ex.begin_day(time=1)
    with pytest.raises(ValueError):
        ex.begin_day(time=2)  # the day has begun
    with pytest.raises(KeyError):
        ex.open_market(time=2, products=["NOPE"])
    with pytest.raises(ValueError):
        ex.add_member(1)  # registered already
    ex.close()
    assert [type(c).__name__ for c in read_journal(f.getvalue()).commands] == ["AddMember",
                                                                                "BeginDay"]
    assert_same_run(ex, heard, replay(f.getvalue()))


@pytest.mark.parametrize("request_, message", [
    (lambda ex: ex.submit_limit(3.5, "PRND_OX", BUY, 400_000, 1000, time=2),
     "submit_limit: member must be an int or str to be journaled, got float 3.5"),
    (lambda ex: ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, time=2, post_only=1),
     "post_only must be a bool"),
    (lambda ex: ex.submit_market(1, "PRND_OX", "buy", 1000, time=2), "side must be a Side"),
    (lambda ex: ex.cancel((1,), 1, time=2), "member must be an int or str"),
    (lambda ex: ex.amend(1, 1, price=True, time=2), "price must be an int or None"),
    (lambda ex: ex.register_negotiated(1, 2, 7, 400_000, 5000, time=2), "product must be a str"),
    (lambda ex: ex.open_block_auction(1, "PRND_OX", 5000, 4e5, start=2, end=3),
     "reserve_price must be an int"),
    (lambda ex: ex.bid_block_auction(1, 1, 400_000, 1000, time=2, channel="online"),
     "channel must be a Channel"),
    (lambda ex: ex.settle_block_auction(None, time=2), "auction_id must be an int"),
    (lambda ex: ex.suspend_member(1, time=2.0), "time must be an int"),
    (lambda ex: ex.reinstate_member(None), "member_id must be an int or str"),
    (lambda ex: ex.close_market(time=2, products="PRND_OX"), "not one string"),
])
def test_arguments_a_record_cannot_hold_exactly_are_refused_before_the_exchange_sees_them(
        request_, message):
    ex, _, f = started()
    ex.add_member(1)
    ex.add_member(2)
    before = (encode(ex.snapshot()), ex._next_id)
    with pytest.raises(TypeError, match=message):
        request_(ex)
    assert (encode(ex.snapshot()), ex._next_id) == before
    ex.close()
    assert len(read_journal(f.getvalue()).commands) == 2


@pytest.mark.parametrize("request_", [
    lambda ex: ex.begin_day(time=2**64),
    lambda ex: ex.submit_limit(1, "PRND_OX", BUY, 400_000, 2**64, time=2),
    lambda ex: ex.submit_limit(1, "PRND_OX", BUY, 400_000, -2**63 - 1, time=2),
])
def test_an_int_beyond_64_bits_is_a_value_error_as_on_a_plain_exchange(request_):
    ex, _, f = started()
    ex.add_member(1)
    plain = Exchange([PRND, LA])
    plain.add_member(1)
    with pytest.raises(ValueError, match="64-bit"):
        request_(plain)
    before = (encode(ex.snapshot()), ex._next_id)
    with pytest.raises(ValueError, match="64-bit"):
        request_(ex)
    assert (encode(ex.snapshot()), ex._next_id) == before
    ex.close()
    assert len(read_journal(f.getvalue()).commands) == 1


def test_ids_a_request_used_up_before_raising_are_journaled_so_later_ids_replay_the_same(
        monkeypatch):
    ex, heard, f = started()
    ex.add_member(1)
    ex.begin_day(time=1)
    ex.open_market(time=2)

    def broken(*args, **kwargs):
        raise TypeError("the book refused it")

    with monkeypatch.context() as patch:  # the book raises after the exchange took an id
        patch.setattr(OrderBook, "limit", broken)
        with pytest.raises(TypeError, match="the book refused it"):
            ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, time=3)
    ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, time=4)
    ex.close()
    commands = read_journal(f.getvalue()).commands
    assert commands[-2] == IdsUsed(2) and type(commands[-1]) is SubmitLimit
    assert first(heard, Accepted).order_id == 2
    assert_same_run(ex, heard, replay(f.getvalue()))


# ------------------------------------------------------------------ the plain exchange


def test_a_plain_exchange_runs_no_journal_code():
    for name in ("add_member", "suspend_member", "reinstate_member", "begin_day", "open_market",
                 "close_market", "submit_limit", "submit_market", "cancel", "amend",
                 "register_negotiated", "open_block_auction", "bid_block_auction",
                 "settle_block_auction", "set_band", "set_channel_open", "_done"):
        assert getattr(Exchange, name).__module__ == "engine.exchange", name
        assert name in vars(JournalingExchange), name
    ex = Exchange([PRND])
    assert not hasattr(ex, "journal") and not hasattr(ex, "_unwritten")
    ex.add_member(1)
    # a plain exchange refuses what a record cannot hold, as the journaling one does
    with pytest.raises(TypeError, match="member must be an int or str"):
        ex.submit_limit(3.5, "PRND_OX", BUY, 400_000, 1000, time=1)


def test_every_public_command_of_the_exchange_is_journaled():
    queries = {"subscribe", "member", "members", "day", "block_auction", "products", "product",
               "state", "book", "preopen_orders", "order", "order_product", "band",
               "settlement", "daily_bars", "current_bar", "snapshot", "channel_open"}
    public = {name for name in dir(Exchange) if not name.startswith("_")}
    commands = public - queries
    assert commands, "no command methods found"
    missing = {name for name in commands if name not in vars(JournalingExchange)}
    assert not missing, f"Exchange commands the journal does not record: {sorted(missing)}"
    assert len(commands) == len(COMMANDS) - 1  # one record kind per command, and IdsUsed


def test_the_engine_journal_does_not_import_the_simulator():
    code = ("import sys, engine.journal\n"
            "assert not any(m.split('.')[0] == 'sim' for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_records_are_frozen_array_like_structs_tagged_once_per_command():
    for kind in COMMANDS + (JournalHeader,):
        config = kind.__struct_config__
        assert config.frozen and config.tag is not None and config.array_like, kind
        assert kind.__module__ == journal_module.__name__
    assert len({k.__struct_config__.tag for k in COMMANDS}) == len(COMMANDS)
    assert OpenMarket.__struct_config__.tag == "open_market"
