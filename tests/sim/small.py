"""A small, fast variant of baotou-2024 for the simulator's tests (three weeks, 150 members)."""

from __future__ import annotations

import datetime as dt

import msgspec

from sim.scenario import Scenario, builtin_text, load_scenario

END = dt.date(2024, 1, 19)


def small_scenario(**behaviour) -> Scenario:
    """baotou-2024 cut to January's first 13 trading days and 150 members."""
    sc = load_scenario("baotou-2024")
    return msgspec.structs.replace(
        sc,
        calendar=msgspec.structs.replace(sc.calendar, end=END),
        population=msgspec.structs.replace(sc.population, members=150, members_at_start=110),
        behaviour=msgspec.structs.replace(sc.behaviour, steps_per_day=6, **behaviour),
        block_auctions=msgspec.structs.replace(sc.block_auctions, every_days=6),
    )


def small_toml() -> str:
    """The same small scenario as TOML text, edited from the built-in file."""
    text = builtin_text("baotou-2024")
    for old, new in (("end = 2024-10-31", f"end = {END.isoformat()}"),
                     ("members = 987", "members = 150"),
                     ("members_at_start = 760", "members_at_start = 110"),
                     ("steps_per_day = 12", "steps_per_day = 6"),
                     ("every_days = 20", "every_days = 6")):
        assert old in text, old
        text = text.replace(old, new)
    return text
