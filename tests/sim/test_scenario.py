"""Scenario files: the built-in ones load; every kind of mistake is ONE line naming the field."""

from __future__ import annotations

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
])
def test_a_bad_override_is_one_line_naming_it(assignment, message):
    with pytest.raises(UserError) as info:
        load_scenario("baotou-2024", [assignment])
    assert message in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- interventions


def _interventions(text: str):
    return load_scenario("baotou-2024", [f"interventions=[{text}]"]).interventions


def test_interventions_name_the_dominant_sellers_or_an_id():
    ivs = _interventions('{date=2024-06-03, action="withdraw", member="dominant_light"}, '
                         '{date=2024-08-01, action="return", member="dominant_light"}, '
                         '{date=2024-03-01, action="withdraw", member=17}')
    assert [(iv.action, iv.member) for iv in ivs] == [
        ("withdraw", "dominant_light"), ("return", "dominant_light"), ("withdraw", 17)]


@pytest.mark.parametrize("text, message", [
    ('{date=2025-01-02, action="withdraw", member=1}', "date: expected a date from 2024-01-01"),
    ('{date=2024-05-02, action="withdraw", member=988}', "member: expected an enterprise id"),
    ('{date=2024-05-02, action="return", member=3}', "without having withdrawn before"),
    ('{date=2024-05-02, action="withdraw", member=3}, {date=2024-06-03, action="withdraw", '
     'member=3}', "has already withdrawn by 2024-06-03"),
    ('{date=2024-05-02, action="leave", member=3}', "$.interventions[0].action"),
    ('{date=2024-05-02, action="withdraw", member="big_seller"}', "$.interventions[0].member"),
])
def test_an_impossible_intervention_is_refused(text, message):
    with pytest.raises(UserError) as info:
        _interventions(text)
    assert message in str(info.value)
