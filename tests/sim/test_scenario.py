"""Scenario files: the built-in ones load; every kind of mistake is ONE line naming the field."""

from __future__ import annotations

import re

import pytest

from sim.errors import RexsimError as UserError
from sim.scenario import builtin_scenarios, builtin_text, load_scenario, parse_scenario


def _edit(old: str, new: str) -> str:
    text = builtin_text("baotou-2024")
    assert old in text
    return text.replace(old, new, 1)


def _error(text: str, tmp_path, name: str = "scenario.toml") -> str:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    with pytest.raises(UserError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_default_scenario_is_builtin_and_loads():
    assert "baotou-2024" in builtin_scenarios()
    sc = load_scenario()
    assert sc.name == "baotou-2024"
    assert len(sc.products) == 14
    assert len(sc.population.provinces) == 26
    assert sc.population.members == 987


def test_shown_text_parses_to_the_same_scenario():
    assert parse_scenario(builtin_text("baotou-2024")) == load_scenario("baotou-2024")


def test_bad_value_names_file_path_and_value(tmp_path):
    sc = load_scenario()
    fourth = sc.products[3]
    text = _edit(f'code = "{fourth.code}"\nname = "{fourth.name}"\ntick = {fourth.tick}',
                 f'code = "{fourth.code}"\nname = "{fourth.name}"\ntick = -5')
    path = tmp_path / "scenario.toml"
    assert _error(text, tmp_path) == f"{path}: $.products[3].tick: expected int >= 1, got -5"


def test_wrong_type_says_what_was_expected_and_found(tmp_path):
    message = _error(_edit("steps_per_day = 12", 'steps_per_day = "many"'), tmp_path)
    assert message.endswith("$.behaviour.steps_per_day: expected int, got str")


def test_unknown_key_is_named(tmp_path):
    message = _error(_edit("steps_per_day = 12", "steps_per_day = 12\nstep_per_day = 3"),
                     tmp_path)
    assert message.endswith("$.behaviour: contains unknown field step_per_day")


def test_missing_key_is_named(tmp_path):
    message = _error(_edit('name = "baotou-2024"\n', ""), tmp_path)
    assert message.endswith("$: missing required field name")


def test_invalid_toml_is_one_line_with_position(tmp_path):
    message = _error(_edit("[behaviour]", "[behaviour"), tmp_path)
    assert "invalid TOML" in message and "line" in message


def test_lot_must_be_a_multiple_of_ten_kg(tmp_path):
    message = _error(_edit("lot = 10000", "lot = 10005"), tmp_path)
    assert "$.products[11].lot: expected a multiple of 10 kg, got 10005" in message


def test_role_naming_an_unknown_product_is_refused(tmp_path):
    message = _error(_edit('buys = ["PRND_MT"', 'buys = ["PRND_XX"'), tmp_path)
    assert "$.roles[2].buys[0]: unknown product 'PRND_XX'" in message


def test_quotes_on_a_role_other_than_trader_is_refused(tmp_path):
    message = _error(_edit('name = "magnet_maker"\nweight_pct = 30\n',
                           'name = "magnet_maker"\nweight_pct = 30\nquotes = ["PRND_MT"]\n'),
                     tmp_path)
    assert "$.roles[2].quotes: only the 'trader' role makes markets" in message


@pytest.mark.parametrize("name", ["../../etc", "/tmp/abs", ".", "..", ".hidden", "a b", ""])
def test_a_name_that_is_not_one_safe_path_component_is_refused(tmp_path, name):
    # the name is the default output directory, out/NAME: it must not leave out/
    message = _error(_edit('name = "baotou-2024"', f"name = {name!r}".replace("'", '"')),
                     tmp_path)
    assert "$.name: expected " in message


def test_a_name_of_letters_digits_and_punctuation_loads(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(_edit('name = "baotou-2024"', 'name = "my_what-if+2.1"'), "utf-8")
    assert load_scenario(path).name == "my_what-if+2.1"


@pytest.mark.parametrize("schedule", ["[[2024-03-31, 25], [2024-06-30, 20]]",
                                      "[[2024-06-30, 25], [2024-03-31, 60]]",  # 60 then 25
                                      "[[2024-03-31, 25], [2024-03-31, 60]]"])
def test_an_online_schedule_that_goes_back_is_refused(tmp_path, schedule):
    message = _error(_edit("online_schedule = [[2024-03-31, 25], [2024-06-30, 60], "
                           "[2024-09-30, 95], [2024-10-31, 100]]",
                           f"online_schedule = {schedule}"), tmp_path)
    assert "$.population.online_schedule: expected one share a date, each at least" in message


def test_end_before_start_is_refused(tmp_path):
    message = _error(_edit("end = 2024-10-31", "end = 2023-10-31"), tmp_path)
    assert "$.calendar.end: expected a date on or after start" in message


def test_unknown_builtin_lists_the_known_ones():
    with pytest.raises(UserError, match="unknown scenario 'nope'.*baotou-2024"):
        load_scenario("nope")


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="cannot read"):
        load_scenario(tmp_path / "absent.toml")


# --------------------------------------------------------------------------- --set overrides


def test_overrides_set_nested_values_and_products_by_code():
    sc = load_scenario("baotou-2024", ["population.members=1974", "products.PRND_OX.band_pct=10",
                                       "products[1].tick=200", "exchange.trade_price=median",
                                       "calendar.end=2024-06-28"])
    assert sc.population.members == 1974
    assert sc.product("PRND_OX").band_pct == 10
    assert sc.products[1].tick == 200
    assert sc.exchange.trade_price == "median"
    assert str(sc.calendar.end) == "2024-06-28"
    assert sc.product("ND_OX") == load_scenario().product("ND_OX")  # nothing else moved


def test_later_override_of_the_same_key_wins():
    sc = load_scenario("baotou-2024", ["behaviour.act_pct=50", "behaviour.act_pct=20"])
    assert sc.behaviour.act_pct == 20


def test_null_unsets_a_field_that_may_be_unset():
    assert load_scenario().population.seed is not None
    assert load_scenario("baotou-2024", ["population.seed=null"]).population.seed is None


def test_overrides_of_a_scenario_object_revalidate_it():
    from sim.scenario import with_overrides

    sc = with_overrides(load_scenario(), ["population.members_at_start=500"])
    assert sc.population.members_at_start == 500
    with pytest.raises(UserError, match=r"\$\.population\.members_at_start: expected <= members"):
        with_overrides(sc, ["population.members_at_start=5000"])


@pytest.mark.parametrize("assignment, message", [
    ("population.members", "expected KEY=VALUE"),
    ("=3", "expected KEY=VALUE"),
    ("population..members=3", "expected KEY=VALUE with KEY like"),
    ("products.FOO.tick=3", "products has no entry 'FOO'"),
    ("products[99].tick=3", "products has 14 entries, no [99]"),
    ("seed.x=1", "seed is a value, not a table"),
    ("population.membrs=3", "$.population: contains unknown field membrs"),
    ("products.PRND_OX.tick=-5", "$.products[0].tick: expected int >= 1, got -5"),
    ("population.seed=-1", "$.population.seed: expected int >= 0, got -1"),
    ("population.seed=1.5", "$.population.seed: expected int | null, got float"),
    ("population.members=null", "$.population.members: expected int, got null"),
    ("roles.trader.use_intensity=0", "$.roles[4].use_intensity: expected float > 0.0, got 0"),
    ("roles.trader.use_intensity=nan", "$.roles[4].use_intensity: expected float > 0.0"),
    ("roles.trader.use_intensity=inf", "$.roles[4].use_intensity: expected float <= 100.0"),
    ("calendar.sessions=[[09:00:00, 25:00:00]]", "[[09:00:00, 25:00:00]] is not a TOML value"),
    ('name="abc', '"abc is not a TOML value: Unterminated string'),
    ("events=[{date=2024-07-01, kind=demand}]", "is not a TOML value: Invalid value"),
])
def test_a_bad_override_is_one_line_naming_it(assignment, message):
    with pytest.raises(UserError) as info:
        load_scenario("baotou-2024", [assignment])
    assert message in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- events


def _events(text: str):
    return load_scenario("baotou-2024", [f"events=[{text}]"]).events


def test_events_are_tagged_by_kind_and_name_their_targets():
    evs = _events('{date=2024-06-03, kind="withdraw", member="dominant_light"}, '
                  '{date=2024-08-01, kind="return", member="dominant_light"}, '
                  '{date=2024-03-01, kind="supply", group="light", pct=-20}, '
                  '{date=2024-03-01, kind="demand", products=["DY_OX"], pct=15}, '
                  '{date=2024-04-01, kind="band", pct=8}, {date=2024-04-01, kind="fee", bp=2}, '
                  '{date=2024-05-01, kind="channel", channel="offline", open=false}')
    assert [type(e).__name__ for e in evs] == [
        "WithdrawEvent", "ReturnEvent", "SupplyEvent", "DemandEvent", "BandEvent", "FeeEvent",
        "ChannelEvent"]
    assert evs[2].group == "light" and evs[3].products == ["DY_OX"]


@pytest.mark.parametrize("text, message", [
    ('{date=2025-01-02, kind="withdraw", member=1}', "date: expected a date from 2024-01-01"),
    ('{date=2024-05-02, kind="withdraw", member=988}', "member: expected an enterprise id"),
    ('{date=2024-05-02, kind="return", member=3}', "without having withdrawn before"),
    ('{date=2024-05-02, kind="withdraw", member=3}, {date=2024-06-03, kind="withdraw", '
     'member=3}', "has already withdrawn by 2024-06-03"),
    ('{date=2024-05-02, kind="leave", member=3}',
     "$.events[0].kind: expected one of supply, demand, withdraw, return, band, fee, channel"),
    ('{date=2024-05-02, kind="withdraw", member="big_seller"}', "$.events[0].member"),
    ('{date=2024-05-02, kind="supply", pct=-20}', "expected either products or group"),
    ('{date=2024-05-02, kind="supply", group="lite", pct=-20}', "unknown group 'lite'"),
    ('{date=2024-05-02, kind="supply", products=["XX"], pct=-20}', "unknown product 'XX'"),
    ('{date=2024-05-02, kind="supply", group="light", pct=-100}', "pct: expected float >= -99"),
    ('{date=2024-05-02, kind="band", pct=8, abs=900}', "exactly one of pct and abs"),
    ('{date=2024-05-02, kind="fee", bp=5000}', "bp: expected int <= 1000"),
    ('{date=2024-05-02, kind="supply", products=["PRND_OX", "PRND_OX"], pct=10}',
     "$.events[0].products[1]: 'PRND_OX' is listed twice"),
    ('{date=2024-05-02, kind="withdraw", member=1}, {date=2024-06-03, kind="withdraw", '
     'member="dominant_light"}', "member 'dominant_light' has already withdrawn by 2024-06-03"),
])
def test_an_impossible_event_is_refused_in_one_line(text, message):
    with pytest.raises(UserError) as info:
        _events(text)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("settings, message", [
    (['products.1.follows="XX"'], "$.products[1].follows: unknown product 'XX'"),
    (['products.1.follows="PRND_MT"'], "PRND_MT -> PRND_MT is a loop"),
    (['products.0.follows="ND_MT"', "products.0.group=null"],
     "$.products[0].follows: PRND_OX -> ND_MT -> ND_OX -> PRND_OX is a loop"),
    (['products.1.group="light"'], "$.products[1].follows: expected either group or follows"),
])
def test_a_product_follows_a_listed_one_without_a_loop_and_is_no_co_product_too(settings,
                                                                                 message):
    with pytest.raises(UserError) as info:
        load_scenario("baotou-2024", settings)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("settings, message", [
    (["products.STAB.demand_elasticity=0", "products.STAB.supply_elasticity=0",
      'events=[{date=2024-06-03, kind="demand", products=["STAB"], pct=10}]'],
     "$.events[0]: no finite national price of STAB follows"),
    (['events=[{date=2024-03-01, kind="demand", group="heavy", pct=10}, '
      '{date=2024-06-03, kind="supply", products=["TB_OX"], pct=-99}]'],
     "$.events[1]: the elasticities imply a national price of"),
    (["products.STAB.demand_elasticity=0.0001", "products.STAB.supply_elasticity=0",
      'events=[{date=2024-06-03, kind="demand", products=["STAB"], pct=900}]'],
     "national price of STAB e^2.303e+04 its anchors"),  # too large to work out as a price
])
def test_a_shift_whose_price_would_be_infinite_or_beyond_the_price_range_is_refused(
        settings, message):
    with pytest.raises(UserError) as info:
        load_scenario("baotou-2024", settings)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_block_auctions_need_two_steps_a_day_to_open_and_settle():
    with pytest.raises(UserError, match=r"steps_per_day: expected at least 2 with block "
                                        r"auctions .* got 1; or set block_auctions=null"):
        load_scenario("baotou-2024", ["behaviour.steps_per_day=1"])
    sc = load_scenario("baotou-2024", ["behaviour.steps_per_day=1", "block_auctions=null"])
    assert sc.block_auctions is None


def test_the_same_shift_with_elasticities_that_clear_it_loads():
    sc = load_scenario("baotou-2024", [
        'events=[{date=2024-06-03, kind="demand", products=["STAB"], pct=10}, '
        '{date=2024-06-03, kind="supply", products=["TB_OX"], pct=-50}]'])
    assert len(sc.events) == 2


def test_a_member_named_and_given_by_id_is_one_member():
    evs = _events('{date=2024-05-02, kind="withdraw", member=1}, '
                  '{date=2024-06-03, kind="return", member="dominant_light"}')
    assert [type(e).__name__ for e in evs] == ["WithdrawEvent", "ReturnEvent"]
    with pytest.raises(UserError, match=r"member: expected an enterprise id from 1 to 1, got "
                                        r"dominant_heavy \(id 2\)"):
        load_scenario("baotou-2024", ["population.members=1", "population.members_at_start=1",
                                      "population.online_schedule=[]",
                                      'events=[{date=2024-05-02, kind="withdraw", '
                                      'member="dominant_heavy"}]'])


@pytest.mark.parametrize("key, fix", [
    ('interventions=[{date=2024-06-03, action="withdraw", member=1}]', "[[events]]"),
    ("behaviour.price_memory_pct=50", "national price"),
    ("population.online_growth_pct=100", "switch_pct"),
])
def test_settings_of_earlier_versions_say_what_replaced_them(key, fix):
    with pytest.raises(UserError, match=re.escape(fix)):
        load_scenario("baotou-2024", [key])


# --------------------------------------------------------------------------- overlays


def test_a_wildcard_override_sets_a_field_of_every_entry():
    sc = load_scenario("baotou-2024", ["products.*.band_pct=10"])
    assert {p.band_pct for p in sc.products} == {10}


def test_an_overlay_merges_its_tables_adds_its_events_and_applies_its_set(tmp_path):
    (tmp_path / "mine.toml").write_text(
        'base = "quota-cut-2024"\nname = "mine"\nset = ["products.LA_OX.band_pct=7"]\n'
        "[population]\nmembers = 1100\n"
        '[[events]]\ndate = 2024-07-01\nkind = "fee"\nbp = 1\n', "utf-8")
    sc = load_scenario(tmp_path / "mine.toml")
    base = load_scenario("baotou-2024")
    assert sc.name == "mine" and sc.population.members == 1100
    assert sc.population.members_at_start == base.population.members_at_start  # merged
    assert [e.kind if hasattr(e, "kind") else type(e).__name__ for e in sc.events] == [
        "SupplyEvent", "FeeEvent"]
    assert sc.product("LA_OX").band_pct == 7 and sc.product("CE_OX").band_pct == 5
    (tmp_path / "next.toml").write_text('base = "mine.toml"\nname = "next"\n', "utf-8")
    assert load_scenario(tmp_path / "next.toml").population.members == 1100  # relative base


def test_an_overlay_without_a_name_is_named_by_its_file_not_its_base(tmp_path):
    # with its base's name its runs would go to out/baotou-2024, over the baseline's
    (tmp_path / "my-fee.toml").write_text('base = "baotou-2024"\n', "utf-8")
    assert load_scenario(tmp_path / "my-fee.toml").name == "my-fee"
    (tmp_path / "then.toml").write_text('base = "my-fee.toml"\n', "utf-8")  # at every level
    assert load_scenario(tmp_path / "then.toml").name == "then"
    (tmp_path / "my fee.toml").write_text('base = "baotou-2024"\n', "utf-8")
    with pytest.raises(UserError, match=r"\$\.name: missing, and the file's name 'my fee'"):
        load_scenario(tmp_path / "my fee.toml")


def test_an_overlays_unknown_base_is_refused_naming_the_file_and_the_field(tmp_path):
    (tmp_path / "bad.toml").write_text('base = "nope-2024"\nname = "bad"\n', "utf-8")
    with pytest.raises(UserError, match=r"bad\.toml: \$\.base: unknown scenario 'nope-2024'"):
        load_scenario(tmp_path / "bad.toml")


def test_an_overlay_that_is_its_own_base_is_refused(tmp_path):
    (tmp_path / "loop.toml").write_text('base = "loop.toml"\nname = "loop"\n', "utf-8")
    with pytest.raises(UserError, match="its own base"):
        load_scenario(tmp_path / "loop.toml")


@pytest.mark.parametrize("name, check", [
    ("quota-cut-2024", lambda sc: [(type(e).__name__, e.group, e.pct) for e in sc.events]
     == [("SupplyEvent", "light", -20.0)]),
    ("withdrawal-2024", lambda sc: [(type(e).__name__, e.member) for e in sc.events]
     == [("WithdrawEvent", "dominant_light")]),
    ("no-doubling-2024", lambda sc: (sc.population.switch_pct,
                                     sc.population.new_members_online_pct) == (0, 0)),
    ("wide-band-2024", lambda sc: {p.band_pct for p in sc.products} == {10}),
    ("members-2025", lambda sc: sc.population.members == 1231),
])
def test_each_built_in_what_if_is_baotou_2024_with_its_one_change(name, check):
    sc = load_scenario(name)
    base = load_scenario("baotou-2024")
    assert sc.name == name and check(sc)
    assert sc.calendar == base.calendar and sc.national == base.national


def test_a_calendar_without_trading_days_names_the_calendar():
    with pytest.raises(UserError, match=r"\$\.calendar: no trading days from 2024-01-06"):
        load_scenario("baotou-2024", ["calendar.start=2024-01-06", "calendar.end=2024-01-07"])


@pytest.mark.parametrize("assignment, field", [
    ("calendar.sessions=[[09:00:00, 09:00:59]]", "calendar.sessions[0][1]"),
    ("calendar.auction=[08:55:30, 09:00:00]", "calendar.auction[0]"),
    ("counter.service=[[09:00:00, 11:30:00.5]]", "counter.service[0][1]"),
])
def test_a_time_that_is_not_a_whole_minute_is_refused_not_rounded_down(assignment, field):
    """The calendar counts in minutes: 09:00:59 was read as 09:00, an empty session."""
    with pytest.raises(UserError, match=re.escape(f"$.{field}: expected a local time in whole "
                                                  f"minutes")):
        load_scenario("baotou-2024", [assignment])


def test_block_auctions_of_a_product_the_dominant_light_producer_does_not_make_are_refused():
    with pytest.raises(UserError, match=r"block_auctions.product: 'DY_OX' is not made by the "
                                        r"dominant light producer"):
        load_scenario("baotou-2024", ['block_auctions.product="DY_OX"'])


@pytest.mark.parametrize("name, message", [
    ("x" * 300, "cannot read: File name too long"),
    ("a\0b.toml", "holds no NUL character"),
])
def test_a_name_the_system_cannot_take_is_one_line(name, message):
    with pytest.raises(UserError, match=message) as info:
        load_scenario(name)
    assert "\n" not in str(info.value)


def test_overrides_given_as_one_string_are_refused_not_read_a_character_at_a_time():
    from sim.scenario import with_overrides

    for call in (lambda: load_scenario("baotou-2024", "seed=3"),
                 lambda: parse_scenario(builtin_text("baotou-2024"), overrides="seed=3"),
                 lambda: with_overrides(load_scenario(), "seed=3")):
        with pytest.raises(UserError, match="expected a list of KEY=VALUE strings, got the "
                                            "string 'seed=3'"):
            call()


def test_a_scenario_changed_in_code_is_held_to_the_rules_a_file_is():
    import datetime as dt

    import msgspec

    from sim.scenario import FeeEvent, with_overrides

    sc = load_scenario()
    assert with_overrides(sc, ()) is sc
    replace = msgspec.structs.replace
    for bad, message in [
        (replace(sc, population=replace(sc.population, members=0)),
         "population.members: expected int >= 1, got 0"),
        (replace(sc, exchange=replace(sc.exchange, fee_bp=5.5)),
         "exchange.fee_bp: expected int, got float"),
        (replace(sc, events=[FeeEvent(date=dt.date(2030, 1, 1), bp=3)]),
         "events[0].date: expected a date from 2024-01-01 to 2024-10-31, got 2030-01-01"),
    ]:
        with pytest.raises(UserError, match=re.escape(message)):
            with_overrides(bad, ())


def test_an_overlays_bad_event_is_also_named_by_its_place_in_the_file(tmp_path):
    """The resolved list holds the base's events first: $.events[1] is the file's first."""
    message = _error('base = "quota-cut-2024"\nname = "ov"\n[[events]]\ndate = 2024-07-01\n'
                     'kind = "fee"\nbp = -3\n', tmp_path, "ov.toml")
    assert message.endswith("ov.toml: $.events[1].bp: expected int >= 0, got -3 (events[1] is "
                            "this file's events[0]; its base's 1 come first)")
