"""``kind = "market"`` in ``mabeam run``: the shared answers, every mechanism, faults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from mabeam import ScenarioError
from mabeam.scenario import load_scenario, parse_scenario, run_scenario

SHARED = Path(__file__).resolve().parents[2] / "scenarios"  # tests/scenarios
SHARED_MARKETS = sorted(SHARED.glob("market-*.toml"))


def run_toml(text: str) -> dict[str, Any]:
    """Run a scenario given as TOML; its report as plain data."""
    report, _ = run_scenario(parse_scenario(text.encode(), path="<test>", fmt="toml"))
    return json.loads(msgspec.json.encode(report))  # type: ignore[no-any-return]


def agents(*orders: tuple[str, str, str]) -> str:
    """``(id, side, "price[xquantity][@at_ms]")`` per agent, resource cpu."""
    tables = []
    for agent_id, side, spec in orders:
        price, _, at = spec.partition("@")
        price, _, quantity = price.partition("x")
        fields = [f'side = "{side}"', 'resource = "cpu"', f"price = {float(price)}"]
        fields += [f"quantity = {quantity}"] if quantity else []
        fields += [f"at_ms = {at}"] if at else []
        tables.append(f'[[agents]]\nid = "{agent_id}"\norders = [{{{", ".join(fields)}}}]\n')
    return "\n".join(tables)


def scenario(protocol: str, body: str, tail: str = "") -> str:
    return f'name = "m"\nseed = 3\n[protocol]\nkind = "market"\n{protocol}\n{body}\n{tail}'


BIDS_ASKS = agents(
    *[(f"b{i}", "buy", str(p)) for i, p in enumerate([10, 9, 8, 6, 4], 1)],
    *[(f"s{i}", "sell", str(p)) for i, p in enumerate([3, 5, 7, 8, 11], 1)],
)
REDUCED = agents(
    *[(f"b{i}", "buy", str(p)) for i, p in enumerate([10, 9, 8, 2], 1)],
    *[(f"s{i}", "sell", str(p)) for i, p in enumerate([3, 5, 7, 20], 1)],
)


def test_shared_market_scenarios_exist() -> None:
    assert len(SHARED_MARKETS) >= 2


@pytest.mark.parametrize("path", SHARED_MARKETS, ids=lambda p: p.stem)
def test_shared_market_scenarios(path: Path) -> None:
    """Each shared market scenario gives its .expect.json result, twice the same."""
    expect = json.loads(path.with_suffix(".expect.json").read_text())
    report, _ = run_scenario(load_scenario(str(path)))
    again, _ = run_scenario(load_scenario(str(path)))
    assert report.ok is expect["ok"]
    result = json.loads(msgspec.json.encode(report.result))
    for field, value in expect["result"].items():
        if field == "trades":
            assert [{k: t[k] for k in value[0]} for t in result[field]] == value
        else:
            assert result[field] == value, field
    assert msgspec.json.encode(report.result) == msgspec.json.encode(again.result)


def test_mcafee_examples_as_scenarios() -> None:
    full = run_toml(scenario('pricing_mechanism = "double_auction"\npricing = "mcafee"', BIDS_ASKS))
    assert full["ok"] is True
    assert (full["result"]["volume"], full["result"]["clearing_price"]) == (3, {"cpu": 7.0})
    reduced = run_toml(
        scenario('pricing_mechanism = "double_auction"\npricing = "mcafee"', REDUCED)
    )
    result = reduced["result"]
    assert (result["volume"], result["clearing_price"], result["surplus"]) == (2, {"cpu": 8.0}, 2.0)
    assert {(t["price"], t["seller_price"]) for t in result["trades"]} == {(8.0, 7.0)}
    pairwise = run_toml(
        scenario('pricing_mechanism = "double_auction"\npricing = "pairwise"', REDUCED)
    )
    assert [t["price"] for t in pairwise["result"]["trades"]] == [6.5, 7.0, 7.5]
    assert pairwise["result"]["clearing_price"] == {}


def test_a_crashed_agent_never_trades() -> None:
    """b1 down from the start: the call clears without it."""
    report = run_toml(
        scenario(
            'pricing_mechanism = "double_auction"\nreply_timeout_ms = 200',
            BIDS_ASKS,
            '[[faults]]\nat_ms = 0\ncrash = "b1"\n',
        )
    )
    assert report["ok"] is True
    assert "b1" not in {t["buyer"] for t in report["result"]["trades"]}
    assert report["result"]["orders_received"] == 9


def test_continuous_trading_with_a_crash_mid_session() -> None:
    """S3 crashes at 15 ms, before its order is due at 20 ms: its order never arrives."""
    body = agents(
        ("S1", "sell", "101x10@0"),
        ("S2", "sell", "100x5@10"),
        ("S3", "sell", "100x5@20"),
        ("B1", "buy", "101x8@30"),
    )
    report = run_toml(
        scenario(
            'pricing_mechanism = "continuous_trading"',
            body,
            '[[faults]]\nat_ms = 15\ncrash = "S3"\n',
        )
    )
    trades = [(t["seller"], t["quantity"], t["price"]) for t in report["result"]["trades"]]
    assert trades == [("S2", 5, 100.0), ("S1", 3, 101.0)]
    assert report["result"]["book"]["cpu"]["asks"] == [["S1", 7, 101.0]]
    assert report["result"]["vwap"] == {"cpu": round((500 + 303) / 8, 9)}


def test_posted_price_scenario() -> None:
    body = agents(("a", "buy", "5x3@10"), ("b", "buy", "5x3@0"), ("c", "buy", "1x1@0"))
    report = run_toml(
        scenario(
            'pricing_mechanism = "posted_price"\nprices = {cpu = 4.0}\nsupply = {cpu = 4}', body
        )
    )
    result = report["result"]
    assert [(t["buyer"], t["seller"], t["quantity"]) for t in result["trades"]] == [
        ("b", "market", 3),
        ("a", "market", 1),
    ]
    assert (result["revenue"], result["unsold"]) == ({"cpu": 16.0}, {"cpu": 0})


COMBI = """
[[agents]]
id = "a1"
bundles = [{items = ["A"], bid = 5.0}]

[[agents]]
id = "a2"
bundles = [{items = ["B"], bid = 5.0}]

[[agents]]
id = "a3"
bundles = [{items = ["A", "B"], bid = 8.0}]
"""


def test_combinatorial_market_scenario() -> None:
    report = run_toml(
        scenario('pricing_mechanism = "combinatorial_auction"\npayment_rule = "vcg"', COMBI)
    )
    result = report["result"]
    assert result["allocations"] == {"a1": ["A"], "a2": ["B"]}
    assert (result["payments"], result["total_value"]) == ({"a1": 3.0, "a2": 3.0}, 10.0)
    none = run_toml(
        scenario('pricing_mechanism = "combinatorial_auction"', '[[agents]]\nid = "x"\n')
    )
    assert none["ok"] is False
    assert none["error"]["code"] == "no_bids"


def test_market_orders_outside_the_book_are_refused_at_load() -> None:
    text = scenario(
        'pricing_mechanism = "double_auction"',
        '[[agents]]\nid = "a"\norders = [{side = "buy", resource = "cpu"}]\n',
    )
    with pytest.raises(ScenarioError, match=r"agents\[0\]\.orders\[0\]\.price"):
        parse_scenario(text.encode(), path="<test>", fmt="toml")
