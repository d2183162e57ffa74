"""``run_auction`` and the actors: auctions by messages, on virtual time."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

import mabeam.protocols.auction as package
from mabeam import ActorCrashedError, ActorSystem, ConfigError
from mabeam.protocols.auction import (
    Accept,
    AuctionResult,
    Bid,
    BidderAgent,
    BundleBid,
    BundleBids,
    CallForBids,
    Decline,
    Drop,
    Stay,
    run_auction,
)
from mabeam.protocols.auction.sealed import settle_sealed
from mabeam.runtime import Actor
from mabeam.sim import SimNetwork, run_virtual

from .test_clock import run_dutch, run_english

pytestmark = pytest.mark.virtual_time


async def spawn_bidders(system: ActorSystem, **bidders: dict[str, Any]) -> list[str]:
    """One BidderAgent per keyword, named after it."""
    for name, state in bidders.items():
        await system.spawn(BidderAgent, name, name=name, **state)
    return list(bidders)


class SlowBidder(Actor):
    """Bids, but only after ``delay`` seconds: later than the auctioneer waits."""

    def __init__(self, amount: float, delay: float) -> None:
        self.amount, self.delay = amount, delay

    async def receive(self, message: Any) -> Any:
        await asyncio.sleep(self.delay)
        return Bid(amount=self.amount, value="slow")


class CrashingBidder(Actor):
    """Raises on every request: the auctioneer must count it as a decline."""

    async def receive(self, message: Any) -> Any:
        raise RuntimeError("broken bidder")


class OddBidder(Actor):
    """Answers something that is no auction answer."""

    async def receive(self, message: Any) -> Any:
        return "hello"


async def test_sealed_second_price_seed_example() -> None:
    """The seed's temperature auction: creative wins, pays the second bid 5.0."""
    async with ActorSystem() as system:
        names = await spawn_bidders(
            system,
            coder={"value": 0.1, "bid": 5.0},
            creative={"value": 1.2, "bid": 8.0},
            reviewer={"value": 0.3, "bid": 3.0},
        )
        result = await run_auction(
            system, "temperature", names, auction_type="sealed_bid", payment_rule="second_price"
        )
    assert result == AuctionResult(
        winner="creative",
        winning_value=1.2,
        payment=5.0,
        auction_type="sealed_bid",
        payment_rule="second_price",
        participants=3,
        bids_received=3,
        rounds=1,
        efficiency=1.0,
    )
    assert result.ok
    encoded = msgspec.json.decode(msgspec.json.encode(result))
    assert "allocations" not in encoded
    assert "error" not in encoded


async def test_refs_and_names_and_auctioneer_stopped() -> None:
    """Bidders may be refs with a name; the auctioneer is gone once the result is back."""
    async with ActorSystem() as system:
        a = await system.spawn(BidderAgent, "a", bid=2.0, valuation=4.0, name="a")
        await system.spawn(BidderAgent, "b", bid=3.0, valuation=3.0, name="b")
        result = await run_auction(system, None, [a, "b"], name="house")
        assert system.whereis("house") is None
    assert (result.winner, result.payment) == ("b", 3.0)
    assert result.efficiency == 0.75  # b values it 3, a values it 4


async def test_late_crashed_and_odd_answers_count_as_declines() -> None:
    """A late, a crashing and a nonsense answer are declines; the auction still ends."""
    async with ActorSystem() as system:
        await system.spawn(SlowBidder, 100.0, 2.0, name="slow")
        await system.spawn(CrashingBidder, name="crash")
        await system.spawn(OddBidder, name="odd")
        await system.spawn(BidderAgent, "ok", bid=1.0, value="v", name="ok")
        loop = asyncio.get_running_loop()
        start = loop.time()
        result = await run_auction(
            system, "x", ["slow", "crash", "odd", "ok", "missing"], reply_timeout=0.5
        )
        assert loop.time() - start == pytest.approx(0.5)
    assert (result.winner, result.winning_value, result.bids_received) == ("ok", "v", 1)
    assert result.participants == 5


async def test_network_latency_beyond_timeout_is_no_bids() -> None:
    """Over a network slower than the reply timeout every answer is late: no_bids."""
    network = SimNetwork(seed=1, latency_ms=600)
    async with ActorSystem(transport=network) as system:
        for name in ("a", "b", "house"):
            network.add_node(name)
        await spawn_bidders(system, a={"bid": 1.0}, b={"bid": 2.0})
        result = await run_auction(system, "x", ["a", "b"], name="house", reply_timeout=1.0)
    assert result.error == "no_bids"
    assert not result.ok
    assert result.bids_received == 0


async def test_english_and_dutch_examples() -> None:
    """The PROTOCOLS.md clock examples through actors."""
    async with ActorSystem() as system:
        await spawn_bidders(
            system,
            a={"value": "A", "max_bid": 10.0, "bid": 10.0},
            b={"value": "B", "max_bid": 7.0, "bid": 7.0},
            c={"value": "C", "max_bid": 4.0, "bid": 4.0},
        )
        english = await run_auction(
            system, "t", ["a", "b", "c"], auction_type="english", starting_price=0, increment=1
        )
        dutch = await run_auction(
            system, "t", ["a", "b", "c"], auction_type="dutch", starting_price=12, decrement=1
        )
    assert (english.winner, english.winning_value, english.payment, english.rounds) == (
        "a",
        "A",
        8.0,
        9,
    )
    assert english.bids_received == 3
    assert (dutch.winner, dutch.payment, dutch.rounds, dutch.bids_received) == ("a", 10.0, 3, 3)
    # Integer options still give plain floats in the result (PROTOCOLS.md).
    assert msgspec.json.encode([english.payment, dutch.payment]) == b"[8.0,10.0]"


async def test_clock_errors_come_back_as_results() -> None:
    """No winning bid and a timed-out english clock are results with an error code."""
    async with ActorSystem() as system:
        await spawn_bidders(system, a={"max_bid": 9.0}, b={"max_bid": 9.0}, c={"bid": 3.0})
        timeout = await run_auction(
            system, None, ["a", "b"], auction_type="english", increment=1, max_rounds=3
        )
        unsold = await run_auction(
            system, None, ["c"], auction_type="dutch", starting_price=5, reserve_price=4
        )
    assert (timeout.error, timeout.rounds, timeout.winner) == ("auction_timeout", 3, None)
    assert (unsold.error, unsold.winner, unsold.rounds) == ("no_winning_bid", None, 11)
    assert unsold.bids_received == 1


async def test_bidder_without_any_amount_declines() -> None:
    """A BidderAgent with no bid, valuation or max_bid declines and drops."""
    async with ActorSystem() as system:
        await spawn_bidders(system, a={}, b={"valuation": 2.0})
        sealed = await run_auction(system, None, ["a", "b"])
        english = await run_auction(system, None, ["a", "b"], auction_type="english")
        empty = await run_auction(system, None, ["a"], auction_type="combinatorial", items=["X"])
    assert (sealed.winner, sealed.payment, sealed.bids_received) == ("b", 2.0, 1)
    assert (english.winner, english.payment, english.rounds) == ("b", 0.0, 1)
    assert empty.error == "no_bids"
    assert empty.bids_received == 0


async def test_combinatorial_through_actors() -> None:
    """Bundles come as messages; a bundle naming an unknown item is ignored."""
    async with ActorSystem() as system:
        await spawn_bidders(
            system,
            a1={"bundles": [{"items": ["A"], "bid": 5.0}]},
            a2={"bundles": [BundleBid(items=["B"], bid=5.0), {"items": ["Z"], "bid": 99.0}]},
            a3={"bundles": [{"items": ["A", "B"], "bid": 8.0}]},
        )
        result = await run_auction(
            system,
            None,
            ["a1", "a2", "a3"],
            auction_type="combinatorial",
            payment_rule="vcg",
            items=["A", "B"],
        )
    assert result.allocations == {"a1": ["A"], "a2": ["B"]}
    assert result.payments == {"a1": 3.0, "a2": 3.0}
    assert (result.total_value, result.optimal, result.bids_received) == (10.0, True, 3)
    assert result.winner is None


async def test_bidder_answers_from_private_state() -> None:
    """BidderAgent: bid, else valuation; english on max_bid; refuses foreign messages."""
    async with ActorSystem() as system:
        ref = await system.spawn(BidderAgent, "a", valuation=4.0, value=1)
        assert await ref.ask(CallForBids("x")) == Bid(amount=4.0, value=1, valuation=4.0)
        bundles = await system.spawn(BidderAgent, "b", bundles=[{"items": ["A"], "bid": 1}])
        assert await bundles.ask(CallForBids("x")) == Decline()
        with pytest.raises(ActorCrashedError):
            await ref.ask("what?")
    assert BundleBids(bundles=[]).value is None


async def test_log_events() -> None:
    """auction_started and auction_closed are logged with the outcome."""
    async with ActorSystem() as system:
        await spawn_bidders(system, a={"bid": 1.0})
        with capture_logs() as logs:
            await run_auction(system, None, ["a"], name="auction-7")
    started = [e for e in logs if e["event"] == "auction_started"]
    closed = [e for e in logs if e["event"] == "auction_closed"]
    assert started[0]["participants"] == 1
    assert started[0]["auction_id"] == "auction-7"
    assert (closed[0]["winner"], closed[0]["payment"], closed[0]["error"]) == ("a", 1.0, None)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"auction_type": "sealed"}, "auction_type", id="auction-type"),
        pytest.param({"payment_rule": "vcg"}, "payment_rule", id="vcg-sealed"),
        pytest.param({"auction_type": "dutch"}, "starting_price", id="dutch-start"),
        pytest.param({"auction_type": "combinatorial"}, "items", id="items-required"),
        pytest.param({"items": []}, "items", id="items-empty"),
        pytest.param({"items": ["A", ""]}, "items[1]", id="item-empty"),
        pytest.param({"items": ["A", "A"]}, "items[1]", id="item-twice"),
        pytest.param({"reserve_price": -1}, "reserve_price", id="reserve-negative"),
        pytest.param({"starting_price": float("nan")}, "starting_price", id="start-nan"),
        pytest.param({"increment": 0}, "increment", id="increment-zero"),
        pytest.param({"max_rounds": 0}, "max_rounds", id="max-rounds-zero"),
        pytest.param({"max_rounds": 2.5}, "max_rounds", id="max-rounds-float"),
        pytest.param({"reply_timeout": float("inf")}, "reply_timeout", id="timeout-inf"),
        pytest.param({"time_budget": 0}, "time_budget", id="budget-zero"),
        pytest.param({"colour": "red"}, "colour", id="unknown-option"),
        pytest.param({"bidders": ["a", "a"]}, "bidders[1]", id="bidder-twice"),
        pytest.param({"bidders": [""]}, "bidders[0]", id="bidder-empty"),
        pytest.param({"bidders": "ab"}, "bidders", id="bidders-string"),
        pytest.param({"bidders": {"a", "b"}}, "bidders", id="bidders-set-has-no-order"),
        pytest.param({"bidders": ["a", 3]}, "bidders[1]", id="bidder-not-a-name"),
        pytest.param({"variable": 3}, "variable", id="variable-not-str"),
    ],
)
async def test_invalid_arguments_raise_config_error(kwargs: dict[str, Any], field: str) -> None:
    """Invalid arguments raise ConfigError (a ValueError) naming the argument."""
    bidders = kwargs.pop("bidders", ["a"])
    variable = kwargs.pop("variable", None)
    async with ActorSystem() as system:
        with pytest.raises(ConfigError) as caught:
            await run_auction(system, variable, bidders, **kwargs)
    assert isinstance(caught.value, ValueError)
    assert caught.value.field == field


async def test_unnamed_ref_is_refused() -> None:
    """A ref without a registered name cannot be a bidder: its id would be unknown."""
    async with ActorSystem() as system:
        ref = await system.spawn(BidderAgent, "a", bid=1.0)
        with pytest.raises(ConfigError, match="registered under a name"):
            await run_auction(system, None, [ref])


def test_all_is_honest() -> None:
    """The package's __all__ is sorted and lists exactly its public names."""
    assert package.__all__ == sorted(package.__all__, key=lambda n: (n[:1].islower(), n))
    public = {n for n in vars(package) if not n.startswith("_") and n[:1].isupper()}
    public |= {n for n in vars(package) if n == "run_auction"}
    assert set(package.__all__) == public


class FixedAnswer(Actor):
    """Answers every request with the same (possibly malformed) message."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    async def receive(self, message: Any) -> Any:
        return self.answer


COMBINATORIAL = {"auction_type": "combinatorial", "items": ["A"]}


@pytest.mark.parametrize(
    ("answer", "kwargs", "expected"),
    [
        # Sealed bid: a Bid that arrived counts in bids_received, valid or not; an amount
        # that is no finite number >= 0 can neither win nor set a price.
        pytest.param(Bid(amount="x"), {}, ("ok", 1.0, 2, None), id="bid-string"),  # type: ignore[arg-type]
        pytest.param(Bid(amount=None), {}, ("ok", 1.0, 2, None), id="bid-none"),  # type: ignore[arg-type]
        pytest.param(Bid(amount=10**400), {}, ("ok", 1.0, 2, None), id="bid-int-beyond-float"),
        pytest.param(Bid(amount=math.nan), {}, ("ok", 1.0, 2, None), id="bid-nan"),
        pytest.param(Bid(amount=-3.0), {}, ("ok", 1.0, 2, None), id="bid-negative"),
        pytest.param(Bid(amount=math.inf), {}, ("ok", 1.0, 2, None), id="bid-inf"),
        pytest.param(
            Bid(amount=2.0, value="w", valuation="v"),  # type: ignore[arg-type]
            {},
            ("w", 2.0, 2, None),
            id="valuation-string-is-taken-as-the-bid",
        ),
        pytest.param(Stay(), {}, ("ok", 1.0, 1, None), id="wrong-message-type"),
        # Dutch: an Accept whose bid is no number is a decline.
        pytest.param(
            Accept(bid="x"),  # type: ignore[arg-type]
            {"auction_type": "dutch", "starting_price": 1.5, "decrement": 0.5},
            ("ok", 1.0, 2, None),
            id="dutch-accept-string",
        ),
        pytest.param(
            Accept(bid=0.0),
            {"auction_type": "dutch", "starting_price": 1.5, "decrement": 0.5},
            ("ok", 1.0, 2, None),
            id="dutch-accept-below-its-price",
        ),
        # English: a Drop with a nonsense max_bid is a drop; a Stay's bad valuation unknown.
        pytest.param(
            Drop(max_bid="x"),  # type: ignore[arg-type]
            {"auction_type": "english"},
            ("ok", 0.0, 2, None),
            id="english-drop-string",
        ),
        pytest.param(
            Stay(valuation="q"),  # type: ignore[arg-type]
            {"auction_type": "english", "max_rounds": 2},
            (None, None, 2, "auction_timeout"),
            id="english-stay-bad-valuation",
        ),
        # Combinatorial: malformed bundles are ignored, the answer still arrived.
        pytest.param(
            BundleBids(bundles=["junk"]),  # type: ignore[list-item]
            COMBINATORIAL,
            ("ok", 1.0, 2, None),
            id="bundle-junk",
        ),
        pytest.param(
            BundleBids(bundles=None),  # type: ignore[arg-type]
            COMBINATORIAL,
            ("ok", 1.0, 2, None),
            id="bundles-none",
        ),
        pytest.param(
            BundleBids(bundles=[BundleBid(items="A", bid=2.0)]),  # type: ignore[arg-type]
            COMBINATORIAL,
            ("ok", 1.0, 2, None),
            id="bundle-items-string",
        ),
        pytest.param(
            BundleBids(bundles=[BundleBid(items=["A"], bid="9")]),  # type: ignore[arg-type]
            COMBINATORIAL,
            ("ok", 1.0, 2, None),
            id="bundle-bid-string",
        ),
        pytest.param(
            BundleBids(bundles=[BundleBid(items=["A"], bid=-9.0)]),
            COMBINATORIAL,
            ("ok", 1.0, 2, None),
            id="bundle-bid-negative",
        ),
    ],
)
async def test_malformed_answers_never_crash_the_auctioneer(
    answer: Any, kwargs: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    """A bidder answering nonsense (a bad number, a wrong type) is declined; the auction
    ends with the outcome the honest bidder ``ok`` (bid 1.0, bundle {A}: 1.0) gives."""
    async with ActorSystem() as system:
        await system.spawn(FixedAnswer, answer, name="w")
        await spawn_bidders(
            system, ok={"bid": 1.0, "max_bid": 1.0, "bundles": [{"items": ["A"], "bid": 1.0}]}
        )
        result = await run_auction(system, None, ["w", "ok"], **kwargs)
    winner, payment, received, error = expected
    if kwargs.get("auction_type") == "combinatorial":
        assert result.error == error
        assert result.allocations == {winner: ["A"]}
        assert result.payments == {winner: payment}
    else:
        assert (result.winner, result.payment, result.error) == (winner, payment, error)
        if winner is not None:
            assert result.efficiency == 1.0
    assert result.bids_received == received


@pytest.mark.parametrize("field", ["bid", "valuation", "max_bid"])
@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
async def test_bidder_agent_refuses_bad_amounts(field: str, bad: float) -> None:
    """A BidderAgent's bid, valuation and max_bid are finite numbers >= 0 (PROTOCOLS.md)."""
    with pytest.raises(ConfigError) as caught:
        BidderAgent("a", **{field: bad})  # type: ignore[arg-type]
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({}, (None, None, 1, "no_bids"), id="sealed"),
        # english: p_0 is announced to nobody, none stay at r = 0
        pytest.param({"auction_type": "english"}, (None, None, 1, "no_winning_bid"), id="english"),
        # dutch: 12, 11, ..., 0 announced to nobody, then p_13 < reserve 0
        pytest.param(
            {"auction_type": "dutch", "starting_price": 12, "decrement": 1},
            (None, None, 13, "no_winning_bid"),
            id="dutch",
        ),
        pytest.param(
            {"auction_type": "combinatorial", "items": ["A"]},
            (None, None, 1, "no_bids"),
            id="combinatorial",
        ),
    ],
)
async def test_zero_bidders(kwargs: dict[str, Any], expected: tuple[Any, ...]) -> None:
    """No bidder at all: every auction type ends with its error code, none hangs."""
    async with ActorSystem() as system:
        result = await run_auction(system, None, [], **kwargs)
    assert (result.winner, result.payment, result.rounds, result.error) == expected
    assert (result.participants, result.bids_received, result.efficiency) == (0, 0, None)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({"payment_rule": "second_price"}, (3.0, 1), id="second-price-own-bid"),
        pytest.param(
            {"payment_rule": "second_price", "reserve_price": 1.5}, (1.5, 1), id="reserve"
        ),
        pytest.param({"payment_rule": "first_price"}, (3.0, 1), id="first-price"),
        # the lone bidder stays at p_0 and wins there
        pytest.param({"auction_type": "english", "starting_price": 2}, (2.0, 1), id="english"),
        pytest.param(
            {"auction_type": "dutch", "starting_price": 4, "decrement": 0.25},
            (3.0, 5),
            id="dutch",
        ),
    ],
)
async def test_one_bidder(kwargs: dict[str, Any], expected: tuple[float, int]) -> None:
    """A single bidder (bid 3) wins; what it pays follows each rule."""
    async with ActorSystem() as system:
        await spawn_bidders(system, solo={"bid": 3.0, "value": "v"})
        result = await run_auction(system, None, ["solo"], **kwargs)
    assert (result.winner, result.winning_value, result.efficiency) == ("solo", "v", 1.0)
    assert (result.payment, result.rounds) == expected


async def test_equal_bids_go_to_the_smaller_agent_id() -> None:
    """Equal bids: ties by agent id order (ascending strings), whatever the list order."""
    async with ActorSystem() as system:
        await spawn_bidders(
            system, zed={"bid": 4.0}, b10={"bid": 4.0}, b9={"bid": 4.0}, low={"bid": 1.0}
        )
        names = ["zed", "b9", "b10", "low"]
        sealed = await run_auction(system, None, names, payment_rule="second_price")
        english = await run_auction(system, None, names, auction_type="english", increment=1)
        dutch = await run_auction(system, None, names, auction_type="dutch", starting_price=5)
    assert (sealed.winner, sealed.payment) == ("b10", 4.0)
    assert (english.winner, english.payment, english.rounds) == ("b10", 4.0, 6)
    assert (dutch.winner, dutch.payment, dutch.rounds) == ("b10", 4.0, 11)


async def test_all_bids_below_reserve() -> None:
    """Bids below reserve_price are valid messages, not valid bids: no_bids, all received."""
    async with ActorSystem() as system:
        await spawn_bidders(system, a={"bid": 4.0}, b={"bid": 4.999999})
        result = await run_auction(system, None, ["a", "b"], reserve_price=5)
    assert (result.error, result.bids_received, result.winner) == ("no_bids", 2, None)


async def test_efficiency_from_bid_valuation_or_max_bid() -> None:
    """Each answer reports the bidder's valuation (valuation, else bid, else max_bid);
    efficiency = winner's / the highest among the answers received."""
    async with ActorSystem() as system:
        await spawn_bidders(
            system,
            a={"bid": 5.0, "valuation": 10.0},  # shades its bid: valuation 10
            b={"max_bid": 7.0},  # only max_bid: bids and values 7
            c={"bid": 6.0},  # only bid: values 6
        )
        sealed = await run_auction(system, None, ["a", "b", "c"])
        english = await run_auction(
            system, None, ["a", "b", "c"], auction_type="english", increment=1
        )
        dutch = await run_auction(
            system, None, ["a", "b", "c"], auction_type="dutch", starting_price=9, decrement=1
        )
    assert (sealed.winner, sealed.payment, sealed.efficiency) == ("b", 7.0, 0.7)
    # english: a's max_bid is 10 (valuation before bid); b drops at 8
    assert (english.winner, english.payment, english.efficiency) == ("a", 8.0, 1.0)
    # dutch: accepts at p <= bid, so b takes it at 7
    assert (dutch.winner, dutch.payment, dutch.efficiency) == ("b", 7.0, 0.7)


class PrivateBidder(Actor):
    """English bidder that never tells its max_bid, not even when it drops."""

    def __init__(self, max_bid: float) -> None:
        self.max_bid = max_bid

    async def receive(self, message: Any) -> Any:
        return Stay() if message.price <= self.max_bid else Drop()


async def test_english_all_drop_together_with_private_max_bids() -> None:
    """Both drop at 6 and neither tells its max_bid: both are known to be >= 5, the
    price both stayed at, so agent id order decides and the winner pays 5."""
    async with ActorSystem() as system:
        await system.spawn(PrivateBidder, 5.2, name="pa")
        await system.spawn(PrivateBidder, 5.5, name="pb")
        result = await run_auction(system, None, ["pb", "pa"], auction_type="english", increment=1)
    assert (result.winner, result.payment, result.rounds, result.bids_received) == ("pa", 5.0, 7, 2)
    assert result.efficiency is None  # nobody reported a valuation


AMOUNT = st.integers(0, 16).map(lambda x: x / 2)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(AMOUNT, min_size=1, max_size=5),
    st.sampled_from(["first_price", "second_price"]),
    st.sampled_from([0.0, 2.5]),
)
def test_actors_agree_with_the_pure_rules(amounts: list[float], rule: str, reserve: float) -> None:
    """Through actors (bidder order shuffled against id order), every auction type gives
    exactly what its pure rule gives for the same private amounts."""
    names = [f"x{len(amounts) - i}" for i in range(len(amounts))]  # listed in reverse id order
    private = dict(zip(names, amounts, strict=True))

    async def main() -> list[AuctionResult]:
        async with ActorSystem() as system:
            for name, amount in private.items():
                await system.spawn(BidderAgent, name, bid=amount, value=name, name=name)
            return [
                await run_auction(system, None, names, payment_rule=rule, reserve_price=reserve),
                await run_auction(system, None, names, auction_type="english", increment=0.5),
                await run_auction(
                    system,
                    None,
                    names,
                    auction_type="dutch",
                    starting_price=9,
                    decrement=0.5,
                    reserve_price=reserve,
                ),
            ]

    sealed, english, dutch = run_virtual(main)
    expected = [
        settle_sealed(list(private.items()), rule, reserve),
        run_english(private, increment=0.5),
        run_dutch(private, start=9.0, decrement=0.5, reserve=reserve),
    ]
    for result, award in zip((sealed, english, dutch), expected, strict=True):
        got = (result.winner, result.payment, result.rounds, result.error)
        assert got == (award.winner, award.payment, award.rounds, award.error)
        assert result.winning_value == award.winner
        if award.winner is None:
            assert result.efficiency is None
        elif max(amounts) == 0:
            assert result.efficiency == 1.0
        else:
            assert result.efficiency == private[award.winner] / max(amounts)


async def test_huge_values() -> None:
    """Amounts near the float maximum are finite, hence valid: no overflow anywhere."""
    async with ActorSystem() as system:
        await spawn_bidders(
            system,
            a={"bid": 1.7e308, "bundles": [{"items": ["A"], "bid": 1.7e308}]},
            b={"bid": 1e308, "bundles": [{"items": ["B"], "bid": 1.7e308}]},
        )
        sealed = await run_auction(system, None, ["a", "b"], payment_rule="second_price")
        english = await run_auction(
            system, None, ["a", "b"], auction_type="english", increment=1e307
        )
        dutch = await run_auction(
            system, None, ["a", "b"], auction_type="dutch", starting_price=1.7e308, decrement=1e307
        )
        bundles = await run_auction(
            system,
            None,
            ["a", "b"],
            auction_type="combinatorial",
            items=["A", "B"],
            payment_rule="vcg",
        )
    assert (sealed.winner, sealed.payment, sealed.efficiency) == ("a", 1e308, 1.0)
    # b stays up to 1e308 = p_10 and drops at p_11; a (1.7e308) stays alone
    assert (english.winner, english.payment, english.rounds) == ("a", 1.1e308, 12)
    assert (dutch.winner, dutch.payment, dutch.rounds) == ("a", 1.7e308, 1)
    assert bundles.allocations == {"a": ["A"], "b": ["B"]}
    assert bundles.payments == {"a": 0.0, "b": 0.0}
    assert bundles.total_value == math.inf  # 3.4e308 is beyond the floats
