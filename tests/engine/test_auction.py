"""The call-auction price and allocation, checked against a brute-force search of every price."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import (
    AuctionUncrossed,
    Exchange,
    ExchangeSettings,
    Product,
    Side,
    Trade,
    auction_price,
)
from engine.auction import allocate, pair_fills


def brute_force(bids, asks, reference, tie_break, tick):
    """Try every grid price between the lowest and highest order price; apply the rules naively."""
    if not bids or not asks:
        return None
    everything = [p for p, _ in bids] + [p for p, _ in asks]
    rows = []
    for p in range(min(everything), max(everything) + 1, tick):
        demand = sum(q for bp, q in bids if bp >= p)
        supply = sum(q for ap, q in asks if ap <= p)
        better_bids = sum(q for bp, q in bids if bp > p)
        better_asks = sum(q for ap, q in asks if ap < p)
        rows.append((p, demand, supply, better_bids, better_asks))
    best = max(min(d, s) for _, d, s, _, _ in rows)
    if best == 0:
        return None
    ok = [(p, abs(d - s)) for p, d, s, bb, ba in rows
          if min(d, s) == best and bb <= best and ba <= best]
    assert ok, "the rules always leave some price"
    if tie_break == "reference":
        return min((p for p, _ in ok), key=lambda p: (abs(p - reference), p)), best
    least = min(imb for _, imb in ok)
    tied = sorted(p for p, imb in ok if imb == least)
    return tied[(len(tied) - 1) // 2], best


@st.composite
def auction_books(draw):
    tick = draw(st.sampled_from([1, 2, 5]))
    order = st.tuples(st.integers(1, 25).map(lambda n: n * tick), st.integers(1, 12))
    bids = draw(st.lists(order, max_size=8))
    asks = draw(st.lists(order, max_size=8))
    reference = draw(st.integers(1, 26 * tick))  # a settlement need not lie on the grid
    return bids, asks, reference, tick


@pytest.mark.parametrize("tie_break", ["reference", "imbalance"])
@given(book=auction_books())
def test_auction_price_matches_brute_force_search(tie_break, book):
    bids, asks, reference, tick = book
    got = auction_price(bids, asks, reference, tie_break, tick=tick)
    assert got == brute_force(bids, asks, reference, tie_break, tick)


@pytest.mark.parametrize("tie_break", ["reference", "imbalance"])
@given(book=auction_books())
def test_allocation_at_auction_price_fills_better_orders_and_one_side_at_price(tie_break, book):
    bids, asks, reference, tick = book
    result = auction_price(bids, asks, reference, tie_break, tick=tick)
    if result is None:
        return
    price, qty = result
    bid_fills = allocate(bids, True, price, qty)
    ask_fills = allocate(asks, False, price, qty)
    assert sum(bid_fills) == sum(ask_fills) == qty
    for (p, q), f in zip(bids, bid_fills, strict=True):
        assert f == (q if p > price else f if p == price else 0)
    for (p, q), f in zip(asks, ask_fills, strict=True):
        assert f == (q if p < price else f if p == price else 0)
    at_price_filled_fully = [
        all(f == q for (p, q), f in zip(side, fills, strict=True) if p == price)
        for side, fills in ((bids, bid_fills), (asks, ask_fills))
    ]
    assert any(at_price_filled_fully)
    # time priority at the price: an order gets something only if every earlier one is full
    for side, fills in ((bids, bid_fills), (asks, ask_fills)):
        at = [(q, f) for (p, q), f in zip(side, fills, strict=True) if p == price]
        for i, (_, f) in enumerate(at):
            if f:
                assert all(fq == ff for fq, ff in at[:i])


def test_auction_price_is_none_when_books_do_not_cross():
    assert auction_price([(99, 5)], [(100, 5)], 100, "reference") is None
    assert auction_price([], [(100, 5)], 100, "reference") is None
    assert auction_price([(100, 5)], [], 100, "imbalance") is None


def test_reference_tie_break_picks_grid_price_nearest_previous_settlement():
    # any price in [90, 110] fills 10 against 10
    assert auction_price([(110, 10)], [(90, 10)], 103, "reference") == (103, 10)
    assert auction_price([(110, 10)], [(90, 10)], 50, "reference") == (90, 10)
    assert auction_price([(110, 10)], [(90, 10)], 101, "reference", tick=2) == (100, 10)


def test_imbalance_tie_break_takes_the_middle_of_the_least_imbalanced_prices():
    assert auction_price([(110, 10)], [(90, 10)], None, "imbalance") == (100, 10)


def test_auction_price_rejects_misuse_with_clear_errors():
    with pytest.raises(ValueError, match="tie_break"):
        auction_price([(1, 1)], [(1, 1)], 1, "nearest")
    with pytest.raises(TypeError, match="reference"):
        auction_price([(1, 1)], [(1, 1)], None, "reference")
    with pytest.raises(ValueError, match="tick"):
        auction_price([(3, 1)], [(1, 1)], 2, "reference", tick=2)
    with pytest.raises(ValueError, match="qty"):
        auction_price([(2, 0)], [(1, 1)], 2, "reference")
    with pytest.raises(TypeError):
        auction_price([(2.0, 1)], [(1, 1)], 2, "reference")


@given(
    buys=st.lists(st.integers(1, 9), min_size=1, max_size=6),
    sells=st.lists(st.integers(1, 9), min_size=1, max_size=6),
)
def test_pair_fills_conserves_each_orders_quantity(buys, sells):
    total = min(sum(buys), sum(sells))
    buy_fills = allocate([(1, q) for q in buys], True, 1, total)
    sell_fills = allocate([(1, q) for q in sells], False, 1, total)
    pairs = pair_fills(list(enumerate(buy_fills)), list(enumerate(sell_fills)))
    for i, f in enumerate(buy_fills):
        assert sum(q for b, _, q in pairs if b == i) == f
    for j, f in enumerate(sell_fills):
        assert sum(q for _, s, q in pairs if s == j) == f
    assert all(q > 0 for _, _, q in pairs)


@st.composite
def preopen_orders(draw):
    """Call-auction orders from distinct members (so self-trade prevention never acts)."""
    tick = draw(st.sampled_from([1, 5]))
    order = st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(0, 10),
                      st.integers(1, 6))
    return tick, draw(st.lists(order, min_size=1, max_size=12))


@pytest.mark.parametrize("tie_break", ["reference", "imbalance"])
@given(case=preopen_orders())
def test_exchange_opening_auction_matches_brute_force_price_and_time_priority(tie_break, case):
    tick, orders = case
    product = Product("P", "p", tick=tick, lot=1, reference_price=100 * tick, band_abs=5 * tick)
    ex = Exchange([product], ExchangeSettings(auction_tie_break=tie_break))
    ex.begin_day(time=0)
    low = ex.band("P")[0]
    placed = []
    for i, (side, step, qty) in enumerate(orders):
        ex.add_member(i)
        price = low + step * tick
        placed.append((ex.submit_limit(i, "P", side, price, qty, time=i + 1)[0].order_id,
                       side, price, qty))
    events = ex.open_market(time=100)
    bids = [(p, q) for _, s, p, q in placed if s is Side.BUY]
    asks = [(p, q) for _, s, p, q in placed if s is Side.SELL]
    expected = brute_force(bids, asks, 100 * tick, tie_break, tick)
    uncross = next(e for e in events if type(e) is AuctionUncrossed)
    assert (uncross.price, uncross.qty) == (expected or (None, 0))
    trades = [e for e in events if type(e) is Trade]
    filled: dict[int, int] = {}
    for t in trades:
        assert t.price == uncross.price
        for oid in (t.buy_order_id, t.sell_order_id):
            filled[oid] = filled.get(oid, 0) + t.qty
    for side in (Side.BUY, Side.SELL):
        left = uncross.qty
        mine = [o for o in placed if o[1] is side]
        if expected is not None:  # better prices fill first, then time priority at the price
            better = [o for o in mine if (o[2] - uncross.price) * (1 if side is Side.BUY else -1)
                      > 0]
            left -= sum(o[3] for o in better)
        for oid, _, price, qty in mine:
            want = 0
            if expected is not None:
                gap = (price - uncross.price) * (1 if side is Side.BUY else -1)
                if gap > 0:
                    want = qty
                elif gap == 0:
                    want = min(qty, left)
                    left -= want
            assert filled.get(oid, 0) == want
            rest = ex.book("P").order(oid)
            assert (rest.qty if rest else 0) == qty - want
    ex.book("P").check_invariants()
