"""Headline metrics: unit-named keys holding exactly that unit, read from a summary."""

from __future__ import annotations

from sim.metrics import change_unit, format_value, headline, unit_of


def _summary():
    return {
        "tonnage_kg": 12_345_670, "value_fen": 98_765_432_100, "trades": 42, "members": 9,
        "online_members_end": 4,
        "by_channel": {"online": {"tonnage_kg": 2_000_000, "value_fen": 10},
                       "offline": {"tonnage_kg": 10_345_670, "value_fen": 20}},
        "by_product": {"PRND_OX": {"tonnage_kg": 3_000, "value_fen": 120_000_000,
                                   "tonnage_share_pct": 0.024, "two_sided_pct": 95.5,
                                   "median_spread_bp": 12.5}},
        "off_exchange": {"tonnage_kg": 7_000, "value_fen": 5, "exchange_share_pct": 30.0,
                         "by_product": {"PRND_OX": {"exchange_share_pct": 40.0}}},
        "block_auctions": {"offered_kg": 4_000, "sold_kg": 3_000},
        "concentration": {"sell_value": {"hhi": 2100.5, "top1_pct": 40.0, "top5_pct": 60.0,
                                         "top10_pct": 70.0}},
    }


def test_each_key_holds_the_unit_its_name_says():
    m = {x.key: x for x in headline(_summary())}
    assert m["tonnage_kg"].value == 12_345_670 and m["tonnage_kg"].unit == "kg"
    assert m["value_fen"].unit == "fen"
    assert m["avg_price_yuan_t"].value == 98_765_432_100 * 10 // 12_345_670
    assert m["PRND_OX.avg_price_yuan_t"].value == 400_000
    assert m["online_share_pct"].value == round(100 * 2_000_000 / 12_345_670, 3)
    assert m["block_sold_pct"].value == 75.0
    assert m["PRND_OX.exchange_share_pct"].value == 40.0
    assert m["sell_value.hhi"].unit == "hhi" and m["PRND_OX.median_spread_bp"].unit == "bp"
    for x in headline(_summary()):
        assert x.unit == unit_of(x.key)


def test_a_summary_without_the_newer_tallies_gives_none_not_an_error():
    old = {"tonnage_kg": 1_000, "value_fen": 0, "by_product": {"LA_OX": {"tonnage_kg": 1_000,
                                                                       "value_fen": 0}}}
    m = {x.key: x.value for x in headline(old)}
    assert m["exchange_share_pct"] is None and m["block_sold_pct"] is None
    assert "LA_OX.two_sided_pct" not in m


def test_values_print_in_their_display_unit_and_shares_change_in_points():
    assert format_value(12_345_670, "kg") == "12,345.7"
    assert format_value(98_765_432_150, "fen") == "987,654,322"
    assert format_value(1_500, "kg", signed=True) == "+1.5"
    assert format_value(None, "kg") == "-"
    assert format_value(12.5, "pct") == "12.500"
    assert change_unit("pct") == "pp" and change_unit("kg") == "t"
