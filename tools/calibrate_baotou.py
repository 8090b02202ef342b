"""Recalibrate baotou-2024's national use per product (`monthly_tonnes`) to the 2024 facts.

A developer's tool, not part of the package: it rewrites `sim/scenarios/baotou-2024.toml` in
place. Each round runs the scenario over the seeds, measures each product's exchange tonnage
and average price, and moves each product's national use toward the tonnage that would give
the facts' tonnage share of the target total (damped, because products interact through
shared market makers and budgets). PrNd oxide and metal, which carry most of the value, get
their facts shares scaled by one factor solved from the measured prices so that value lands on
its target; the other products share the rest in the facts' proportions.

    python tools/calibrate_baotou.py --rounds 3 --tonnes 101200 --value-bn 11.8

Nothing here knows a check of `rexsim validate`: it only sets the scenario's inputs.
"""

from __future__ import annotations

import argparse
import re
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sim import run
from sim.validate import FACT_SHARES

PATH = Path(__file__).resolve().parent.parent / "sim" / "scenarios" / "baotou-2024.toml"
PRND = ("PRND_OX", "PRND_MT")


def _summary(seed: int) -> dict:
    return run("baotou-2024", seed=seed).summary


def _shares(prices: dict[str, float], tonnes: float, value_bn: float) -> dict[str, float]:
    """Target tonnage shares (%): the facts', with PrNd's scaled so that value hits target."""
    rest = {c: s for c, s in FACT_SHARES.items() if c not in PRND}
    prnd = {c: FACT_SHARES[c] for c in PRND}

    def value(f: float) -> float:
        pr = {c: s * f for c, s in prnd.items()}
        scale = (100 - sum(pr.values())) / sum(rest.values())
        shares = {**pr, **{c: s * scale for c, s in rest.items()}}
        return sum(tonnes * shares[c] / 100 * prices[c] for c in shares) / 1e9

    lo, hi = 0.8, 1.3
    for _ in range(60):  # value(f) increases with f: bisect
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if value(mid) < value_bn else (lo, mid)
    f = (lo + hi) / 2
    scale = (100 - sum(s * f for s in prnd.values())) / sum(rest.values())
    return {**{c: s * f for c, s in prnd.items()}, **{c: s * scale for c, s in rest.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--tonnes", type=float, default=101_200)
    ap.add_argument("--value-bn", type=float, default=11.8)
    ap.add_argument("--damping", type=float, default=0.7, help="exponent of each round's step")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    for k in range(args.rounds):
        with ProcessPoolExecutor(2) as pool:
            sums = list(pool.map(_summary, seeds))
        got = {c: statistics.fmean(s["by_product"][c]["tonnage_kg"] for s in sums) / 1000
               for c in FACT_SHARES}
        prices = {c: statistics.fmean(s["by_product"][c]["value_fen"] * 10
                                      / max(s["by_product"][c]["tonnage_kg"], 1) for s in sums)
                  for c in FACT_SHARES}
        shares = _shares(prices, args.tonnes, args.value_bn)
        text = PATH.read_text("utf-8")
        for code, share in shares.items():
            m = re.search(rf'code = "{code}".*?monthly_tonnes = ([0-9.]+)', text, re.S)
            old = float(m.group(1))
            want = args.tonnes * share / 100
            new = old * (want / max(got[code], 1e-9)) ** args.damping
            a, b = m.span(1)
            text = text[:a] + f"{new:.4g}" + text[b:]
        PATH.write_text(text, "utf-8")
        print(f"round {k + 1}: tonnage {[round(s['tonnage_kg'] / 1000) for s in sums]} "
              f"value {[round(s['value_fen'] / 1e11, 3) for s in sums]} (before this round)")


if __name__ == "__main__":
    main()
