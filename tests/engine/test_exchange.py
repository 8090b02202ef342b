"""The exchange: sessions, members, bands, the call auction, settlement, channels, listeners."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import (
    Accepted,
    Amended,
    AuctionUncrossed,
    Cancelled,
    CancelReason,
    Channel,
    DaySettled,
    Exchange,
    ExchangeSettings,
    Expired,
    Product,
    Rejected,
    RejectReason,
    SelfTradePolicy,
    SessionChanged,
    SessionState,
    Side,
    TimeInForce,
    Trade,
    TradePriceRule,
)

BUY, SELL = Side.BUY, Side.SELL
PRND = Product("PRND_OX", "PrNd oxide", tick=100, lot=1000, reference_price=400_000, band_pct=5,
               min_block=5000)
LA = Product("LA_OX", "La oxide", tick=10, lot=5000, reference_price=4_000, band_pct=5)
LOW, HIGH = PRND.band(PRND.reference_price)
LATE_JOIN = 1_000_000


def make(**settings) -> Exchange:
    ex = Exchange([PRND, LA], ExchangeSettings(**settings))
    for member in (1, 2, 3, "trader"):
        ex.add_member(member)
    ex.add_member("late", joined=LATE_JOIN)
    return ex


def opened(**settings) -> Exchange:
    ex = make(**settings)
    ex.begin_day(time=10)
    ex.open_market(time=20)
    return ex


def digest(ex: Exchange) -> bytes:
    return msgspec.msgpack.encode(ex.snapshot())


def only_reject(events, reason):
    assert len(events) == 1 and type(events[0]) is Rejected, events
    assert events[0].reason is reason, events[0]
    return events[0]


# ------------------------------------------------------------------ products and bands


def test_band_is_percent_of_reference_rounded_inwards_to_tick():
    assert PRND.band(400_000) == (380_000, 420_000)
    assert PRND.band(400_050) == (380_100, 420_000)  # 380047.5 up, 420052.5 down
    absolute = Product("X", "x", tick=5, lot=1, reference_price=100, band_abs=12)
    assert absolute.band(100) == (90, 110)
    unbounded = Product("Y", "y", tick=5, lot=1, reference_price=100, band_pct=None)
    assert unbounded.band(100)[0] == 5 and unbounded.band(100)[1] > 10**15


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"tick": 0}, ValueError),
        ({"lot": 1.5}, TypeError),
        ({"reference_price": 105}, ValueError),  # off the tick grid
        ({"band_pct": 100}, ValueError),
        ({"min_block": 1500}, ValueError),  # not a lot multiple
        ({"code": ""}, ValueError),
        ({"name": None}, TypeError),  # a journal's header would not read back
    ],
)
def test_product_with_bad_field_raises_naming_it(kwargs, error):
    fields = {"code": "P", "name": "p", "tick": 10, "lot": 1000, "reference_price": 100}
    fields.update(kwargs)
    with pytest.raises(error, match="Product"):
        Product(**fields)


def test_exchange_rejects_duplicate_product_codes_and_bad_settings():
    with pytest.raises(ValueError, match="twice"):
        Exchange([PRND, PRND])
    with pytest.raises(ValueError, match="auction_tie_break"):
        ExchangeSettings(auction_tie_break="nearest")


def test_order_priced_outside_band_is_rejected_in_auction_and_continuous_and_changes_nothing():
    ex = make()
    ex.begin_day(time=10)
    for price in (LOW - PRND.tick, HIGH + PRND.tick):
        before = digest(ex)
        only_reject(ex.submit_limit(1, "PRND_OX", BUY, price, 1000, time=11),
                    RejectReason.PRICE_OUTSIDE_BAND)
        assert digest(ex) == before
    ex.open_market(time=20)
    oid = ex.submit_limit(1, "PRND_OX", BUY, LOW, 1000, time=21)[0].order_id
    for price in (LOW - PRND.tick, HIGH + PRND.tick):
        before = digest(ex)
        only_reject(ex.submit_limit(2, "PRND_OX", SELL, price, 1000, time=22),
                    RejectReason.PRICE_OUTSIDE_BAND)
        only_reject(ex.amend(1, oid, price=price, time=22), RejectReason.PRICE_OUTSIDE_BAND)
        assert digest(ex) == before
    assert type(ex.submit_limit(2, "PRND_OX", SELL, HIGH, 1000, time=23)[0]) is Accepted


def test_off_tick_and_non_positive_prices_keep_their_own_reasons_before_the_band():
    ex = opened()
    only_reject(ex.submit_limit(1, "PRND_OX", BUY, LOW + 50, 1000, time=21),
                RejectReason.PRICE_OFF_TICK)
    only_reject(ex.submit_limit(1, "PRND_OX", BUY, 0, 1000, time=21),
                RejectReason.PRICE_NOT_POSITIVE)
    only_reject(ex.submit_limit(1, "PRND_OX", BUY, HIGH + 50, 1000, time=21),
                RejectReason.PRICE_OFF_TICK)


def test_next_days_band_is_measured_from_the_settlement():
    ex = opened()
    ex.submit_limit(1, "PRND_OX", SELL, 410_000, 1000, time=21)
    ex.submit_limit(2, "PRND_OX", BUY, 410_000, 1000, time=22)
    ex.close_market(time=30)
    assert ex.settlement("PRND_OX") == 410_000
    ex.begin_day(time=40)
    assert ex.band("PRND_OX") == PRND.band(410_000)
    assert ex.band("LA_OX") == LA.band(LA.reference_price)  # nothing traded: previous


def test_a_band_change_takes_effect_at_the_next_day_and_today_s_band_stands():
    ex = opened()
    today = ex.band("PRND_OX")
    assert ex.set_band("PRND_OX", band_pct=10) == []
    assert ex.band("PRND_OX") == today  # today's band stands
    only_reject(ex.submit_limit(1, "PRND_OX", BUY, 370_000, 1000, time=21),
                RejectReason.PRICE_OUTSIDE_BAND)
    assert ex.product("PRND_OX") == msgspec.structs.replace(PRND, band_pct=10)
    assert ex.products[0].band_pct == 10 and ex.product("LA_OX") == LA
    ex.close_market(time=30)  # nothing traded: the settlement stays 400_000
    assert ex.band("PRND_OX") == (360_000, 440_000)  # closed: the coming day's band
    ex.begin_day(time=40)
    assert ex.band("PRND_OX") == (360_000, 440_000)
    assert type(ex.submit_limit(1, "PRND_OX", BUY, 370_000, 1000, time=41)[0]) is Accepted


def test_a_band_rule_follows_product_rules_absolute_first_and_none_for_no_band():
    ex = make()
    ex.set_band("PRND_OX", band_pct=10, band_abs=1_000)  # the absolute half-width wins
    ex.set_band("LA_OX", band_pct=None)  # no band at all
    ex.begin_day(time=10)
    assert ex.band("PRND_OX") == (399_000, 401_000)
    assert ex.band("LA_OX") == (LA.tick, 1 << 62)


@pytest.mark.parametrize("kwargs, error", [
    ({"band_pct": 100}, ValueError), ({"band_pct": -1}, ValueError),
    ({"band_pct": 5, "band_abs": -1}, ValueError), ({"band_pct": True}, TypeError),
    ({"band_pct": 5.0}, TypeError), ({"band_pct": None, "band_abs": "10"}, TypeError),
])
def test_a_band_change_is_validated_as_product_validates_it(kwargs, error):
    ex = opened()
    before = digest(ex)
    with pytest.raises(error, match="band_"):
        ex.set_band("PRND_OX", **kwargs)
    with pytest.raises(TypeError, match="product"):
        ex.set_band(1, band_pct=5)
    assert digest(ex) == before


def test_a_band_change_of_an_unknown_product_is_one_rejected_and_changes_nothing():
    ex = opened()
    before = digest(ex)
    only_reject(ex.set_band("GOLD", band_pct=10), RejectReason.UNKNOWN_PRODUCT)
    assert digest(ex) == before


# ------------------------------------------------------------------ members


@pytest.mark.parametrize(
    "member, reason",
    [
        ("nobody", RejectReason.UNKNOWN_MEMBER),
        ("late", RejectReason.MEMBER_NOT_JOINED),
        (3, RejectReason.MEMBER_SUSPENDED),
    ],
)
def test_orders_of_unknown_suspended_or_not_joined_members_are_rejected(member, reason):
    ex = opened()
    ex.suspend_member(3, time=15)
    ex.submit_limit(1, "PRND_OX", SELL, 400_000, 1000, time=21)
    before = digest(ex)
    only_reject(ex.submit_limit(member, "PRND_OX", BUY, 400_000, 1000, time=22), reason)
    only_reject(ex.submit_market(member, "PRND_OX", BUY, 1000, time=22), reason)
    only_reject(ex.register_negotiated(member, 1, "PRND_OX", 400_000, 5000, time=22), reason)
    assert digest(ex) == before


def test_member_may_trade_from_its_join_time():
    ex = opened()
    assert type(ex.submit_limit("late", "PRND_OX", BUY, 400_000, 1000,
                                time=LATE_JOIN)[0]) is Accepted


def test_suspension_cancels_the_members_orders_and_reinstatement_lets_it_trade_again():
    ex = make()
    ex.begin_day(time=10)
    pre = ex.submit_limit(3, "PRND_OX", BUY, 399_000, 1000, time=11)[0].order_id
    ex.open_market(time=20)
    live = ex.submit_limit(3, "LA_OX", SELL, 4_100, 5000, time=21)[0].order_id
    other = ex.submit_limit(1, "LA_OX", SELL, 4_100, 5000, time=21)[0].order_id
    events = ex.suspend_member(3, time=22)
    assert {(e.order_id, e.reason) for e in events} == {
        (pre, CancelReason.MEMBER_SUSPENDED), (live, CancelReason.MEMBER_SUSPENDED)}
    assert ex.order(pre) is None and ex.order(live) is None and ex.order(other) is not None
    ex.reinstate_member(3)
    assert type(ex.submit_limit(3, "LA_OX", BUY, 4_000, 5000, time=23)[0]) is Accepted


def test_cancel_and_amend_of_another_members_order_is_rejected_not_owner():
    ex = opened()
    oid = ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, time=21)[0].order_id
    before = digest(ex)
    only_reject(ex.cancel(2, oid, time=22), RejectReason.NOT_OWNER)
    only_reject(ex.amend(2, oid, qty=2000, time=22), RejectReason.NOT_OWNER)
    only_reject(ex.cancel(1, 10**9, time=22), RejectReason.UNKNOWN_ORDER)
    assert digest(ex) == before
    assert type(ex.cancel(1, oid, time=23)[0]) is Cancelled


def test_add_member_twice_or_with_a_bad_id_is_misuse():
    ex = make()
    with pytest.raises(ValueError, match="already"):
        ex.add_member(1)
    with pytest.raises(TypeError):
        ex.add_member(1.5)


# ------------------------------------------------------------------ sessions


def test_every_request_is_rejected_market_closed_before_the_first_day_and_after_the_close():
    ex = make()
    for _ in range(2):
        before = digest(ex)
        only_reject(ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, time=1),
                    RejectReason.MARKET_CLOSED)
        only_reject(ex.submit_market(1, "PRND_OX", BUY, 1000, time=1),
                    RejectReason.MARKET_CLOSED)
        only_reject(ex.register_negotiated(1, 2, "PRND_OX", 400_000, 5000, time=1),
                    RejectReason.MARKET_CLOSED)
        only_reject(ex.open_block_auction(1, "PRND_OX", 5000, 400_000, start=1, end=2),
                    RejectReason.MARKET_CLOSED)
        assert digest(ex) == before
        ex.begin_day(time=10)
        gtc = ex.submit_limit(1, "PRND_OX", BUY, 390_000, 1000, time=11)[0].order_id
        ex.open_market(time=20)
        ex.close_market(time=30)
        only_reject(ex.cancel(1, gtc, time=31), RejectReason.MARKET_CLOSED)


def test_market_ioc_fok_and_post_only_orders_are_not_allowed_in_the_call_auction():
    ex = make()
    ex.begin_day(time=10)
    before = digest(ex)
    only_reject(ex.submit_market(1, "PRND_OX", BUY, 1000, time=11),
                RejectReason.NOT_ALLOWED_IN_AUCTION)
    for tif in (TimeInForce.IOC, TimeInForce.FOK):
        only_reject(ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, tif=tif, time=11),
                    RejectReason.NOT_ALLOWED_IN_AUCTION)
    only_reject(ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, post_only=True, time=11),
                RejectReason.NOT_ALLOWED_IN_AUCTION)
    assert digest(ex) == before


def test_session_transitions_in_the_wrong_order_are_misuse():
    ex = make()
    with pytest.raises(ValueError, match="begin_day first"):
        ex.open_market(time=1)
    with pytest.raises(ValueError, match="open_market first"):
        ex.close_market(time=1)
    ex.begin_day(time=1)
    with pytest.raises(ValueError, match="close_market first"):
        ex.begin_day(time=2)


def test_session_events_walk_each_product_through_the_day():
    ex = make()
    states = []
    for step in (ex.begin_day, ex.open_market, ex.close_market):
        events = step(time=5)
        states.append({(e.product, e.state) for e in events if type(e) is SessionChanged})
        assert {ex.state(p) for p in ("PRND_OX", "LA_OX")} == {e[1] for e in states[-1]}
    assert [next(iter(s))[1] for s in states] == [
        SessionState.PRE_OPEN, SessionState.CONTINUOUS, SessionState.CLOSED]


# ------------------------------------------------------------------ the call auction


def test_call_auction_trades_nothing_until_the_open_then_uncrosses_at_one_price():
    ex = make()
    ex.begin_day(time=10)
    b1 = ex.submit_limit(1, "PRND_OX", BUY, 402_000, 3000, time=11)
    s1 = ex.submit_limit(2, "PRND_OX", SELL, 398_000, 2000, time=12)
    s2 = ex.submit_limit(3, "PRND_OX", SELL, 401_000, 2000, time=13)
    assert [type(e) for e in b1 + s1 + s2] == [Accepted] * 3
    assert len(ex.book("PRND_OX")) == 0 and len(ex.preopen_orders("PRND_OX")) == 3
    events = ex.open_market(time=20)
    trades = [e for e in events if type(e) is Trade]
    uncross = next(e for e in events if type(e) is AuctionUncrossed and e.product == "PRND_OX")
    # 3000 wanted at 402,000; 2000 offered below 401,000 and 2000 at it: 3000 trade at 401,000
    assert (uncross.price, uncross.qty) == (401_000, 3000)
    assert {t.price for t in trades} == {401_000} and sum(t.qty for t in trades) == 3000
    assert all(t.maker_order_id < t.taker_order_id for t in trades)  # the earlier order makes
    rest = ex.book("PRND_OX").orders()
    assert [(o.order_id, o.qty) for o in rest] == [(s2[0].order_id, 1000)]


def test_auction_leftovers_enter_the_book_with_their_time_priority():
    ex = make()
    ex.begin_day(time=10)
    ids = [ex.submit_limit(m, "LA_OX", BUY, 3_990, 5000, time=11 + m)[0].order_id
           for m in (3, 1, 2)]
    ex.open_market(time=20)
    assert [o.order_id for o in ex.book("LA_OX").level(BUY, 3_990)] == ids
    late = ex.submit_limit("trader", "LA_OX", SELL, 3_990, 5000, time=21)
    assert next(e for e in late if type(e) is Trade).maker_order_id == ids[0]


def test_auction_cancel_and_amend_in_the_call_auction():
    ex = make()
    ex.begin_day(time=10)
    a = ex.submit_limit(1, "LA_OX", BUY, 3_990, 10000, time=11)[0].order_id
    b = ex.submit_limit(2, "LA_OX", BUY, 3_990, 5000, time=12)[0].order_id
    c = ex.submit_limit(3, "LA_OX", BUY, 3_990, 5000, time=13)[0].order_id
    kept = ex.amend(1, a, qty=5000, time=14)
    assert type(kept[0]) is Amended and kept[0].priority_kept
    moved = ex.amend(2, b, price=4_000, time=15)
    assert type(moved[0]) is Amended and not moved[0].priority_kept
    assert type(ex.cancel(3, c, time=16)[0]) is Cancelled
    only_reject(ex.amend(1, a, qty=5000, time=17), RejectReason.AMEND_NO_CHANGE)
    only_reject(ex.amend(1, a, qty=2500, time=17), RejectReason.QTY_NOT_LOT_MULTIPLE)
    assert [(o.order_id, o.price, o.qty) for o in ex.preopen_orders("LA_OX")] == [
        (a, 3_990, 5000), (b, 4_000, 5000)]


@pytest.mark.parametrize(
    "policy, survivors",
    [
        (SelfTradePolicy.CANCEL_RESTING, {"incoming", "other"}),
        (SelfTradePolicy.CANCEL_INCOMING, {"first", "second", "other"}),
        (SelfTradePolicy.CANCEL_BOTH, {"second", "other"}),
    ],
)
def test_call_auction_applies_self_trade_prevention_on_entry(policy, survivors):
    ex = make(stp=policy)
    ex.begin_day(time=10)
    ids = {
        "first": ex.submit_limit(1, "LA_OX", SELL, 3_990, 5000, time=11)[0].order_id,
        "second": ex.submit_limit(1, "LA_OX", SELL, 4_000, 5000, time=12)[0].order_id,
        "other": ex.submit_limit(2, "LA_OX", SELL, 3_990, 5000, time=13)[0].order_id,
    }
    events = ex.submit_limit(1, "LA_OX", BUY, 4_100, 10000, time=14)
    ids["incoming"] = events[0].order_id
    assert all(e.reason is CancelReason.SELF_TRADE for e in events[1:])
    live = {name for name, oid in ids.items() if ex.order(oid) is not None}
    assert live == survivors
    for e in ex.open_market(time=20):
        if type(e) is Trade:
            assert e.maker_owner != e.taker_owner


@pytest.mark.parametrize("tie_break, price", [("reference", 4_000), ("imbalance", 3_950)])
def test_auction_tie_break_is_the_exchange_setting(tie_break, price):
    ex = make(auction_tie_break=tie_break)
    ex.begin_day(time=10)
    ex.submit_limit(1, "LA_OX", BUY, 4_100, 5000, time=11)
    ex.submit_limit(2, "LA_OX", SELL, 3_800, 5000, time=12)
    events = ex.open_market(time=20)
    assert next(e for e in events if type(e) is AuctionUncrossed and e.product == "LA_OX"
                ).price == price


def test_median_trade_price_rule_continues_from_the_auction_price():
    ex = make(trade_price=TradePriceRule.MEDIAN)
    ex.begin_day(time=10)
    ex.submit_limit(1, "LA_OX", BUY, 4_000, 5000, time=11)
    ex.submit_limit(2, "LA_OX", SELL, 4_000, 5000, time=12)
    ex.open_market(time=20)
    assert ex.book("LA_OX").last_trade_price == 4_000
    ex.submit_limit(1, "LA_OX", SELL, 3_900, 5000, time=21)
    trade = next(e for e in ex.submit_limit(2, "LA_OX", BUY, 4_100, 5000, time=22)
                 if type(e) is Trade)
    assert trade.price == 4_000  # median of 4,100, 3,900 and the auction's 4,000


# ------------------------------------------------------------------ the close and the next day


def test_day_orders_expire_at_the_close_and_gtc_orders_join_the_next_auction():
    ex = opened()
    day = ex.submit_limit(1, "LA_OX", BUY, 3_950, 5000, tif=TimeInForce.DAY, time=21)
    gtc = ex.submit_limit(2, "LA_OX", BUY, 3_960, 5000, time=22)
    events = ex.close_market(time=30)
    assert [e.order_id for e in events if type(e) is Expired] == [day[0].order_id]
    ex.begin_day(time=40)
    assert [o.order_id for o in ex.preopen_orders("LA_OX")] == [gtc[0].order_id]
    ex.submit_limit(3, "LA_OX", SELL, 3_960, 5000, time=41)
    trades = [e for e in ex.open_market(time=50) if type(e) is Trade]
    assert [(t.maker_order_id, t.price) for t in trades] == [(gtc[0].order_id, 3_960)]


def test_carried_gtc_order_outside_the_new_band_is_cancelled_at_the_next_day():
    x = Product("X", "x", tick=1, lot=1, reference_price=100, band_abs=10)
    ex = Exchange([x])
    for member in (1, 2, 3):
        ex.add_member(member)
    ex.begin_day(time=1)
    ex.open_market(time=2)
    stale = ex.submit_limit(1, "X", BUY, 91, 5, time=3)[0].order_id
    kept = ex.submit_limit(1, "X", BUY, 105, 5, time=4)[0].order_id
    ex.submit_limit(2, "X", SELL, 110, 5, time=5)
    ex.submit_limit(3, "X", BUY, 110, 5, time=6)
    ex.close_market(time=7)
    assert ex.settlement("X") == 110 and ex.band("X") == (100, 120)
    events = ex.begin_day(time=8)
    cancelled = [e for e in events if type(e) is Cancelled]
    assert [(e.order_id, e.qty, e.reason) for e in cancelled] == [
        (stale, 5, CancelReason.OUTSIDE_BAND)]
    assert [o.order_id for o in ex.preopen_orders("X")] == [kept]


def test_settlement_is_the_floor_of_the_days_vwap_or_the_previous_settlement():
    ex = opened()
    ex.submit_limit(1, "PRND_OX", SELL, 400_000, 1000, time=21)
    ex.submit_limit(2, "PRND_OX", BUY, 400_000, 1000, time=22)
    ex.submit_limit(1, "PRND_OX", SELL, 400_100, 2000, time=23)
    ex.submit_limit(2, "PRND_OX", BUY, 400_100, 2000, time=24)
    events = ex.close_market(time=30)
    settled = {e.product: e for e in events if type(e) is DaySettled}
    expected = (400_000 * 1000 + 400_100 * 2000) // 3000  # 400,066.67 -> 400,066
    assert settled["PRND_OX"].settlement == expected == ex.settlement("PRND_OX")
    assert settled["LA_OX"].settlement == LA.reference_price and settled["LA_OX"].vwap is None


def test_by_default_a_day_with_no_trade_settles_at_the_previous_settlement_whatever_rests():
    ex = opened()
    ex.submit_limit(1, "PRND_OX", BUY, HIGH, 1000, time=21)  # a bid at the band's top
    ex.submit_limit(1, "LA_OX", SELL, LA.band(LA.reference_price)[0], 5000, time=22)
    ex.close_market(time=30)
    assert ex.settlement("PRND_OX") == PRND.reference_price
    assert ex.settlement("LA_OX") == LA.reference_price


def test_touch_rule_settles_a_day_with_no_trade_at_a_bid_above_or_an_ask_below_the_last():
    ex = opened(untraded_settlement="touch")
    ex.submit_limit(1, "PRND_OX", BUY, HIGH, 1000, time=21)  # locked at the top: no offer
    ex.submit_limit(2, "PRND_OX", BUY, HIGH - 100, 1000, time=22)
    la_low = LA.band(LA.reference_price)[0]
    ex.submit_limit(1, "LA_OX", SELL, la_low, 5000, time=23)  # locked at the bottom: no bid
    assert ex.current_bar("PRND_OX").settlement == HIGH  # what the close would settle at
    events = ex.close_market(time=30)
    settled = {e.product: e for e in events if type(e) is DaySettled}
    assert settled["PRND_OX"].settlement == HIGH and settled["PRND_OX"].vwap is None
    assert settled["LA_OX"].settlement == la_low and settled["LA_OX"].volume == 0
    ex.begin_day(time=40)  # the band moves on from the touch, as from any settlement
    assert ex.band("PRND_OX") == PRND.band(HIGH)
    assert ex.band("LA_OX") == LA.band(la_low)


def test_touch_rule_keeps_the_previous_settlement_inside_the_spread_and_ignores_a_traded_day():
    ex = opened(untraded_settlement="touch")
    ex.submit_limit(1, "PRND_OX", BUY, 399_000, 1000, time=21)  # bid below, ask above: stands
    ex.submit_limit(2, "PRND_OX", SELL, 401_000, 1000, time=22)
    ex.submit_limit(1, "LA_OX", SELL, 4_010, 5000, time=23)  # a day that traded: its VWAP
    ex.submit_limit(2, "LA_OX", BUY, 4_010, 5000, time=24)
    ex.submit_limit(3, "LA_OX", BUY, 4_100, 5000, time=25)  # a bid above the VWAP after it
    ex.close_market(time=30)
    assert ex.settlement("PRND_OX") == PRND.reference_price
    assert ex.settlement("LA_OX") == 4_010
    # DAY orders expired at that close: the next day with no order at all stands still
    ex.begin_day(time=40)
    ex.open_market(time=50)
    ex.close_market(time=60)
    assert ex.settlement("PRND_OX") == PRND.reference_price


def test_the_untraded_settlement_rule_is_validated():
    with pytest.raises(ValueError, match="untraded_settlement"):
        ExchangeSettings(untraded_settlement="bid")


def test_daily_bars_and_settlement_match_a_recomputation_from_the_trade_list():
    rng = np.random.default_rng(7)
    ex = make()
    trades: list[Trade] = []
    ex.subscribe(lambda e: trades.append(e) if type(e) is Trade else None)
    time = 0
    previous = {p.code: p.reference_price for p in (PRND, LA)}
    for day in range(4):
        time += 100
        ex.begin_day(time=time)
        start = len(trades)
        for step in range(120):
            time += 1
            product = (PRND, LA)[int(rng.integers(2))]
            low, high = ex.band(product.code)
            member = [1, 2, 3, "trader"][int(rng.integers(4))]
            side = (BUY, SELL)[int(rng.integers(2))]
            price = int(rng.integers(low // product.tick, high // product.tick + 1)) * product.tick
            qty = int(rng.integers(1, 4)) * product.lot
            if step == 30:
                ex.open_market(time=time)
            if step > 30 and rng.random() < 0.1:
                other = [1, 2, 3, "trader"][int(rng.integers(4))]
                ex.register_negotiated(member, other, product.code, price,
                                       max(qty, product.block_minimum), time=time)
            else:
                ex.submit_limit(member, product.code, side, price, qty, time=time,
                                tif=(TimeInForce.GTC, TimeInForce.DAY)[int(rng.integers(2))])
        time += 1
        ex.close_market(time=time)
        for product in (PRND, LA):
            mine = [t for t in trades[start:] if t.product == product.code]
            bar = ex.daily_bars(product.code)[day]
            assert bar.day == day and bar.trades == len(mine)
            assert bar.volume == sum(t.qty for t in mine)
            assert bar.value == sum(t.price * t.qty // 10 for t in mine)
            if mine:
                assert (bar.open, bar.close) == (mine[0].price, mine[-1].price)
                assert (bar.high, bar.low) == (max(t.price for t in mine),
                                               min(t.price for t in mine))
                vwap = sum(t.price * t.qty for t in mine) // bar.volume
                assert bar.vwap == bar.settlement == vwap
            else:
                assert bar.open is None and bar.settlement == previous[product.code]
            previous[product.code] = bar.settlement
    assert sum(bar.trades for p in (PRND, LA) for bar in ex.daily_bars(p.code)) == len(trades)
    assert any(t.channel is Channel.OFFLINE for t in trades)


# ------------------------------------------------------------------ negotiated trades


def test_negotiated_trade_is_one_offline_trade_off_the_book_counted_in_the_bar():
    ex = opened()
    before = ex.book("PRND_OX").snapshot()
    events = ex.register_negotiated(1, 2, "PRND_OX", 401_000, 5000, time=21)
    assert len(events) == 1
    t = events[0]
    assert type(t) is Trade and t.channel is Channel.OFFLINE and t.aggressor is BUY
    assert (t.buyer, t.seller, t.price, t.qty) == (1, 2, 401_000, 5000)
    assert t.value == 401_000 * 5000 // 10
    assert t.buy_order_id != t.sell_order_id
    assert ex.book("PRND_OX").snapshot() == before
    assert ex.current_bar("PRND_OX").volume == 5000


@pytest.mark.parametrize(
    "buyer, seller, price, qty, reason",
    [
        (1, 1, 400_000, 5000, RejectReason.SAME_ENTERPRISE),
        (1, 2, 400_000, 4000, RejectReason.BELOW_MIN_BLOCK),
        (1, 2, 400_000, 5500, RejectReason.QTY_NOT_LOT_MULTIPLE),
        (1, 2, HIGH + 100, 5000, RejectReason.PRICE_OUTSIDE_BAND),
        (1, 2, 400_050, 5000, RejectReason.PRICE_OFF_TICK),
        (1, "nobody", 400_000, 5000, RejectReason.UNKNOWN_MEMBER),
    ],
)
def test_negotiated_trade_rejects_change_nothing(buyer, seller, price, qty, reason):
    ex = opened()
    before = digest(ex)
    only_reject(ex.register_negotiated(buyer, seller, "PRND_OX", price, qty, time=21), reason)
    assert digest(ex) == before


# ------------------------------------------------------------------ channels


def closed_offline() -> Exchange:
    """Continuous trading, offline channel closed.

    A resting offline ask (order 1) and an open block auction (2).
    """
    ex = opened()
    ex.submit_limit(1, "PRND_OX", SELL, 401_000, 2000, channel=Channel.OFFLINE, time=21)
    ex.open_block_auction(1, "PRND_OX", 10_000, 390_000, start=20, end=100, time=21)
    assert ex.set_channel_open(Channel.OFFLINE, False, time=22) == []
    return ex


@pytest.mark.parametrize("request_", [
    lambda ex: ex.submit_limit(2, "PRND_OX", BUY, 401_000, 1000, channel=Channel.OFFLINE,
                               time=23),
    lambda ex: ex.submit_limit(2, "PRND_OX", BUY, 401_000, 1000, channel=Channel.OFFLINE,
                               time=23, order_id=500),
    lambda ex: ex.submit_market(2, "PRND_OX", BUY, 1000, channel=Channel.OFFLINE, time=23),
    lambda ex: ex.register_negotiated(2, 3, "PRND_OX", 400_000, 5000, time=23),
    lambda ex: ex.open_block_auction(2, "LA_OX", 10_000, 3_900, start=23, end=30,
                                     channel=Channel.OFFLINE),
    lambda ex: ex.bid_block_auction(2, 2, 395_000, 5000, time=23, channel=Channel.OFFLINE),
], ids=["limit", "limit-own-id", "market", "negotiated", "open-block", "bid-block"])
def test_a_request_on_a_closed_channel_is_one_rejected_channel_closed_using_no_id(request_):
    ex = closed_offline()
    fresh = closed_offline()
    before = digest(ex)
    [event] = request_(ex)
    assert event.reason is RejectReason.CHANNEL_CLOSED and event.channel is Channel.OFFLINE
    assert event.order_id in (None, 500)
    assert digest(ex) == before and ex._next_id == fresh._next_id


def test_a_closed_channel_leaves_resting_orders_and_the_other_channel_alone():
    ex = closed_offline()
    assert not ex.channel_open(Channel.OFFLINE) and ex.channel_open(Channel.ONLINE)
    assert ex.snapshot().closed_channels == [Channel.OFFLINE]
    assert ex.order(1) is not None  # the resting offline order stays ...
    trade = ex.submit_limit(2, "PRND_OX", BUY, 401_000, 1000, time=23)[1]
    assert type(trade) is Trade and trade.maker_order_id == 1  # ... and trades
    assert type(ex.amend(1, 1, price=402_000, time=24)[0]) is Amended  # its owner may amend
    assert type(ex.cancel(1, 1, time=25)[0]) is Cancelled  # ... and cancel it
    assert type(ex.bid_block_auction(2, 2, 395_000, 5000, time=26)[0]) is not Rejected
    assert type(ex.settle_block_auction(2, time=100)[-1]).__name__ == "BlockAuctionSettled"


def test_a_closed_channel_refuses_call_auction_orders_and_reopens():
    ex = make()
    ex.begin_day(time=10)
    ex.set_channel_open(Channel.ONLINE, False, time=11)
    only_reject(ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, time=12),
                RejectReason.CHANNEL_CLOSED)
    ex.set_channel_open(Channel.ONLINE, False, time=12)  # closing a closed channel: no change
    assert ex.snapshot().closed_channels == [Channel.ONLINE]
    ex.open_market(time=20)
    only_reject(ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, time=21),
                RejectReason.CHANNEL_CLOSED)  # the fast path too
    ex.set_channel_open(Channel.ONLINE, True, time=22)
    assert type(ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, time=23)[0]) is Accepted
    assert ex.snapshot().closed_channels == []


def test_opening_or_closing_a_channel_takes_a_channel_a_bool_and_an_int_time():
    ex = opened()
    before = digest(ex)
    for call in (lambda: ex.set_channel_open("offline", False, time=1),
                 lambda: ex.set_channel_open(Channel.OFFLINE, 0, time=1),
                 lambda: ex.set_channel_open(Channel.OFFLINE, False, time=1.0),
                 lambda: ex.channel_open("online")):
        with pytest.raises(TypeError):
            call()
    assert digest(ex) == before


# ------------------------------------------------------------------ ids, products, listeners


def test_exchange_assigns_unique_ids_and_respects_callers_ids_across_products():
    ex = opened()
    a = ex.submit_limit(1, "PRND_OX", BUY, 390_000, 1000, time=21)[0].order_id
    b = ex.submit_limit(1, "LA_OX", BUY, 3_900, 5000, time=21)[0].order_id
    assert a != b
    mine = ex.submit_limit(1, "LA_OX", BUY, 3_900, 5000, time=21, order_id=500)[0]
    assert mine.order_id == 500
    only_reject(ex.submit_limit(2, "PRND_OX", BUY, 390_000, 1000, time=21, order_id=500),
                RejectReason.DUPLICATE_ORDER_ID)
    assert ex.submit_limit(1, "LA_OX", BUY, 3_900, 5000, time=21)[0].order_id > 500


def test_a_callers_id_must_be_new_so_no_id_stands_for_two_things():
    ex = opened()
    auction = ex.open_block_auction(1, "PRND_OX", 10_000, 390_000, start=20, end=100,
                                    time=21)[0].auction_id
    filled = ex.submit_limit(2, "PRND_OX", SELL, 400_000, 1000, time=22)[0].order_id
    ex.submit_limit(3, "PRND_OX", BUY, 400_000, 1000, time=23)  # fills it: no longer live
    before = digest(ex)
    for used in (auction, filled):
        for events in (ex.submit_limit(2, "PRND_OX", SELL, 400_000, 1000, time=24, order_id=used),
                       ex.submit_market(2, "PRND_OX", SELL, 1000, time=24, order_id=used)):
            reject = only_reject(events, RejectReason.DUPLICATE_ORDER_ID)
            assert f"order id {used} is not new" in reject.detail
    assert digest(ex) == before  # refused: nothing changed, no id used up


def test_unknown_product_is_rejected_with_its_reason():
    ex = opened()
    only_reject(ex.submit_limit(1, "GOLD", BUY, 1, 1, time=21), RejectReason.UNKNOWN_PRODUCT)
    only_reject(ex.submit_market(1, "GOLD", BUY, 1, time=21), RejectReason.UNKNOWN_PRODUCT)


def test_api_misuse_raises_type_error():
    ex = opened()
    with pytest.raises(TypeError):
        ex.submit_limit(1, "LA_OX", BUY, 3_900.0, 5000, time=21)
    with pytest.raises(TypeError):
        ex.submit_limit(1, "LA_OX", "buy", 3_900, 5000, time=21)
    with pytest.raises(TypeError):
        ex.cancel(1, "7", time=21)
    with pytest.raises(TypeError, match="channel"):
        ex.submit_limit(1, "LA_OX", BUY, 3_900, 5000, channel="online", time=21)
    with pytest.raises(TypeError, match="channel"):
        ex.submit_market(1, "LA_OX", BUY, 5000, channel="offline", time=21)


def test_misuse_that_looks_like_a_valid_request_raises_the_exchange_error_and_changes_nothing():
    ex = opened()
    oid = ex.submit_limit(1, "LA_OX", BUY, 3_900, 5000, time=21)[0].order_id
    before = digest(ex)
    with pytest.raises(TypeError, match="order_id must be an int, got 1.0"):
        ex.cancel(1, float(oid), time=22)  # equal to the live id, and hashes like it
    with pytest.raises(TypeError, match="price must be an int or None"):
        ex.amend(1, oid, price=3_950.0, time=22)  # inside the band
    with pytest.raises(TypeError, match="price must be an int, got float"):
        ex.submit_limit(2, "LA_OX", SELL, 3_950.0, 5000, time=22)
    with pytest.raises(TypeError, match="side"):
        ex.submit_market(2, "LA_OX", "sell", 5000, time=22)
    assert digest(ex) == before


@pytest.mark.parametrize("request_", [
    lambda ex: ex.submit_limit(1, "LA_OX", "buy", 3_900, 5000, time=22),
    lambda ex: ex.submit_limit(1, "LA_OX", BUY, 3_900, 5000.0, time=22),
    lambda ex: ex.submit_limit(1, "LA_OX", BUY, 3_900, 5000, tif="day", time=22),
    lambda ex: ex.submit_limit(1, "LA_OX", BUY, 3_900, 5000, channel="x", time=22, order_id=900),
    lambda ex: ex.submit_market(1, "LA_OX", "buy", 5000, time=22),
    lambda ex: ex.submit_market(1, "LA_OX", BUY, 5000.0, time=22, order_id=900),
    lambda ex: ex.submit_market(1, "LA_OX", BUY, 5000, protection=4_000.0, time=22),
])
def test_misuse_uses_up_no_order_id(request_):
    ex = opened()
    with pytest.raises(TypeError):
        request_(ex)
    fresh = opened()
    assert (ex.submit_limit(1, "LA_OX", BUY, 3_900, 5000, time=23)[0].order_id
            == fresh.submit_limit(1, "LA_OX", BUY, 3_900, 5000, time=23)[0].order_id)


def test_misuse_in_the_call_auction_raises_too():
    ex = make()
    ex.begin_day(time=10)
    with pytest.raises(TypeError, match="side"):
        ex.submit_limit(1, "LA_OX", "buy", 3_900, 5000, time=11)


def test_events_carry_product_and_channel():
    ex = make()
    ex.begin_day(time=10)
    ex.submit_limit(1, "LA_OX", BUY, 4_000, 5000, channel=Channel.OFFLINE, time=11)
    events = ex.submit_limit(2, "LA_OX", SELL, 4_000, 5000, time=12) + ex.open_market(time=20)
    trade = next(e for e in events if type(e) is Trade)
    assert trade.channel is Channel.ONLINE and trade.product == "LA_OX"  # taker: the later
    events = ex.submit_limit(1, "LA_OX", SELL, 4_000, 5000, channel=Channel.OFFLINE, time=21)
    assert all(e.product == "LA_OX" and e.channel is Channel.OFFLINE for e in events)


def test_listener_gets_events_after_the_request_and_may_submit_from_its_callback():
    ex = opened()
    seen = []
    book = ex.book("LA_OX")

    def listener(event):
        # the book is never half-updated: a trade's maker is already gone or reduced
        seen.append((event, len(book), book.best_ask()))
        if type(event) is Trade and event.taker_owner == 2:
            out = ex.submit_limit(3, "LA_OX", SELL, 4_000, 5000, time=event.time + 1)
            assert type(out[0]) is Accepted

    ex.subscribe(listener)
    ex.submit_limit(1, "LA_OX", SELL, 4_000, 5000, time=21)
    returned = ex.submit_limit(2, "LA_OX", BUY, 4_000, 5000, time=22)
    kinds = [type(e) for e, _, _ in seen]
    assert kinds == [Accepted, Accepted, Trade, Accepted]
    assert [e for e, _, _ in seen[1:3]] == returned
    # during the Trade callback the whole request was applied: the ask was already taken
    assert seen[2][1:] == (0, None)
    # the nested request's events came after the outer request's, and were applied
    assert seen[3][0].owner == 3 and book.best_ask() == 4_000


def test_products_can_run_their_own_sessions_and_count_their_own_days():
    ex = make()
    ex.begin_day(time=1, products=["LA_OX"])
    assert ex.state("LA_OX") is SessionState.PRE_OPEN
    assert ex.state("PRND_OX") is SessionState.CLOSED
    only_reject(ex.submit_limit(1, "PRND_OX", BUY, 400_000, 1000, time=2),
                RejectReason.MARKET_CLOSED)
    gtc = ex.submit_limit(1, "LA_OX", BUY, 4_000, 5000, time=2)[0].order_id
    ex.open_market(time=3, products=["LA_OX"])
    ex.close_market(time=4, products=["LA_OX"])
    ex.begin_day(time=5)
    assert ex.order(gtc) is not None  # carried into LA's second day
    ex.open_market(time=6)
    ex.close_market(time=7)
    assert [b.day for b in ex.daily_bars("LA_OX")] == [0, 1]
    assert [b.day for b in ex.daily_bars("PRND_OX")] == [0]
    assert ex.day == 1
    with pytest.raises(KeyError, match="GOLD"):
        ex.begin_day(time=8, products=["GOLD"])
    with pytest.raises(TypeError, match="list of codes"):
        ex.begin_day(time=8, products="LA_OX")


def test_a_listener_that_raises_loses_no_event():
    ex = opened()
    heard = []

    def fussy(event):
        heard.append(event)
        if type(event) is Trade:
            raise RuntimeError("listener bug")

    ex.subscribe(fussy)
    ex.submit_limit(1, "LA_OX", SELL, 4_000, 10000, time=21)
    with pytest.raises(RuntimeError):
        ex.submit_limit(2, "LA_OX", BUY, 4_000, 15000, tif=TimeInForce.IOC, time=22)
    assert ex.book("LA_OX").best_ask() is None  # the request itself was fully applied
    assert [type(e) for e in heard] == [Accepted, Accepted, Trade]
    later = ex.submit_limit(3, "LA_OX", BUY, 3_990, 5000, time=23)
    # the IOC remainder's Cancelled, held back by the failure, comes before the next request's
    assert [type(e) for e in heard[3:]] == [Cancelled] + [type(e) for e in later]
    assert heard[3].reason is CancelReason.IOC_REMAINDER


def test_every_listener_hears_every_event_in_order_including_one_subscribed_in_a_callback():
    ex = opened()
    first, second, late = [], [], []

    def subscribing(event):
        first.append(event)
        if type(event) is Trade and not late:
            late.append("subscribed")  # marks that the late listener exists from now on
            ex.subscribe(late.append)

    ex.subscribe(subscribing)
    resting = ex.submit_limit(1, "LA_OX", SELL, 4_000, 10000, time=21)
    crossing = ex.submit_limit(2, "LA_OX", BUY, 4_000, 5000, time=22)
    assert first == resting + crossing and late == ["subscribed"]
    ex.subscribe(second.append)  # three listeners from here on
    cancel = ex.cancel(1, resting[0].order_id, time=23)
    market = ex.submit_market(3, "LA_OX", SELL, 5000, time=24)
    amend = ex.submit_limit(3, "LA_OX", BUY, 3_990, 5000, time=25)
    amend += ex.amend(3, amend[0].order_id, qty=10000, time=26)
    later = cancel + market + amend
    assert first == resting + crossing + later
    assert late[1:] == later and second == later


def test_a_listener_that_raises_with_others_subscribed_holds_back_the_rest_for_all():
    ex = opened()
    heard, other = [], []

    def fussy(event):
        heard.append(event)
        if type(event) is Trade:
            raise RuntimeError("listener bug")

    ex.subscribe(fussy)
    ex.subscribe(other.append)
    ex.submit_limit(1, "LA_OX", SELL, 4_000, 10000, time=21)
    with pytest.raises(RuntimeError):
        ex.submit_limit(2, "LA_OX", BUY, 4_000, 15000, tif=TimeInForce.IOC, time=22)
    later = ex.submit_limit(3, "LA_OX", BUY, 3_990, 5000, time=23)
    assert [type(e) for e in heard] == [Accepted, Accepted, Trade, Cancelled, Accepted]
    assert heard[-1:] == later and other[-2:] == heard[-2:]


@given(tick=st.sampled_from([1, 5, 10, 100]), ref_ticks=st.integers(1, 10_000),
       pct=st.integers(0, 99))
def test_percent_band_is_the_widest_grid_interval_inside_the_exact_band(tick, ref_ticks, pct):
    product = Product("P", "p", tick=tick, lot=1, reference_price=tick, band_pct=pct)
    reference = ref_ticks * tick
    low, high = product.band(reference)
    assert low % tick == 0 and high % tick == 0 and tick <= low <= reference <= high
    assert 100 * low >= reference * (100 - pct) and 100 * high <= reference * (100 + pct)
    assert low == tick or 100 * (low - tick) < reference * (100 - pct)
    assert 100 * (high + tick) > reference * (100 + pct)


def test_band_narrower_than_a_tick_around_an_off_grid_settlement_allows_the_nearest_price():
    product = Product("P", "p", tick=100, lot=1, reference_price=1000, band_pct=0)
    assert product.band(1049) == (1000, 1000)
    assert product.band(1051) == (1100, 1100)
