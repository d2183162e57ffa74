"""The alternating-offers core: PROTOCOLS.md's worked examples, turns, and properties."""

from __future__ import annotations

import itertools
import math
from collections.abc import Awaitable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam import ConfigError
from mabeam.protocols.bargaining import (
    EXPONENTS,
    AspirationStrategy,
    Session,
    Utility,
    run_session,
)
from mabeam.protocols.bargaining.discounted import (
    bargain_discounted,
    proposer_shares,
    rubinstein_share,
)
from mabeam.protocols.bargaining.session import relative_time
from mabeam.protocols.bargaining.strategies import Number, aspiration, round9

ZERO_TO_TEN = list(range(11))
SELLER = Utility(ideal=10, worst=0)
BUYER = Utility(ideal=0, worst=10)

EXAMPLES = [
    pytest.param("linear", "linear", 5, 5, id="linear-linear"),
    pytest.param("boulware", "boulware", 4, 9, id="boulware-boulware"),
    pytest.param("conceder", "conceder", 5, 0, id="conceder-conceder"),
    pytest.param("boulware", "conceder", 8, 7, id="boulware-seller-conceder-buyer"),
]


@pytest.mark.parametrize(("seller", "buyer", "value", "step"), EXAMPLES)
def test_worked_examples(seller: str, buyer: str, value: int, step: int) -> None:
    """Outcomes 0..10, seller (ideal 10, worst 0) first, buyer (ideal 0, worst 10), 10 steps."""
    outcome = run_session(
        {
            "seller": AspirationStrategy(SELLER, ZERO_TO_TEN, strategy=seller),
            "buyer": AspirationStrategy(BUYER, ZERO_TO_TEN, strategy=buyer),
        },
        ZERO_TO_TEN,
        10,
    )
    assert (outcome.agreed_value, outcome.step, outcome.agreement) == (value, step, True)


def test_linear_example_offer_by_offer() -> None:
    """Each rejection is an offer: 10, 0, 9, 1, ... until the buyer accepts 5 in step 5."""
    outcome = run_session(
        {
            "seller": AspirationStrategy(SELLER, ZERO_TO_TEN),
            "buyer": AspirationStrategy(BUYER, ZERO_TO_TEN),
        },
        ZERO_TO_TEN,
        10,
    )
    assert outcome.offers == 11  # 2 per step for steps 0-4, then the seller's 5
    assert outcome.first_offers == {"seller": 10, "buyer": 0}
    assert outcome.steps == 6


def test_hardliners_never_agree() -> None:
    """Two agents with a = 1 on opposed utilities: no agreement after n_steps."""
    outcome = run_session(
        {
            "seller": AspirationStrategy(SELLER, ZERO_TO_TEN, strategy="hardliner"),
            "buyer": AspirationStrategy(BUYER, ZERO_TO_TEN, strategy="hardliner"),
        },
        ZERO_TO_TEN,
        10,
    )
    assert (outcome.agreement, outcome.agreed_value, outcome.step) == (False, None, None)
    assert (outcome.offers, outcome.steps) == (20, 10)


def test_relative_time_never_reaches_one() -> None:
    """t = (s + 1) / (n_steps + 1)."""
    assert [relative_time(s, 3) for s in range(3)] == [0.25, 0.5, 0.75]


def test_turns_go_round_in_agent_order_and_answer_only_others_offers() -> None:
    """Each step every agent in turn; an agent never answers its own standing offer."""
    session = Session(["a", "b", "c"], ZERO_TO_TEN, 2)
    first = session.turn()
    assert (first.agent, first.step, first.offer, first.proposer) == ("a", 0, None, None)
    assert session.play(offer=3) == "offered"
    assert (session.turn().agent, session.turn().offer, session.turn().proposer) == ("b", 3, "a")
    assert session.play(accept=True) == "accepted"
    assert session.play() == "silent"  # c: silent, the offer and b's acceptance stand
    turn = session.turn()
    assert (turn.agent, turn.step, turn.offer) == ("a", 1, None)  # a's own offer stands
    assert session.play() == "silent"
    assert session.turn().offer == 3  # b answers a's offer again
    assert session.play(accept=True) == "accepted"
    assert session.play(accept=True) == "agreed"  # c accepts: everyone but a has
    assert session.done
    outcome = session.outcome()
    assert (outcome.agreed_value, outcome.step, outcome.offers, outcome.steps) == (3, 1, 1, 2)


def test_a_new_offer_clears_the_acceptances() -> None:
    """Acceptances belong to one offer: a counter-offer starts from none."""
    session = Session(["a", "b", "c"], ZERO_TO_TEN, 5)
    session.play(offer=3)
    session.play(accept=True)  # b
    session.play(offer=4)  # c rejects a's offer with its own
    assert session.accepted == set()
    session.play(accept=True)  # a accepts 4
    assert session.play(accept=True) == "agreed"  # b accepts 4: a and b, all but c
    assert session.outcome().agreed_value == 4


def test_silence_and_invalid_moves_change_nothing() -> None:
    """Accepting nothing, offering a non-outcome (or a bool, or junk) counts as silence."""
    session = Session(["a", "b"], ZERO_TO_TEN, 1)
    assert session.play(accept=True) == "silent"  # nothing to accept
    assert session.play(offer=11) == "silent"
    assert session.done
    session = Session(["a", "b"], [0, 1], 1)
    assert session.play(offer=True) == "silent"
    assert session.play(offer=[1]) == "silent"  # type: ignore[arg-type]
    assert session.outcome().offers == 0
    with pytest.raises(RuntimeError):
        session.turn()


def test_a_lone_agent_agrees_with_itself_at_once() -> None:
    """With no other agent, every other agent has (vacuously) accepted its first offer."""
    session = Session(["solo"], ZERO_TO_TEN, 3)
    assert session.play(offer=7) == "agreed"
    assert (session.outcome().agreed_value, session.outcome().step) == (7, 0)


@pytest.mark.parametrize(
    ("agents", "outcomes", "n_steps", "field"),
    [
        pytest.param([], [1], 1, "agents", id="no-agents"),
        pytest.param(["a", "a"], [1], 1, "agents", id="twice"),
        pytest.param(["a"], [], 1, "outcomes", id="no-outcomes"),
        pytest.param(["a"], [1], 0, "n_steps", id="no-steps"),
    ],
)
def test_bad_sessions_are_refused(
    agents: list[str], outcomes: list[Number], n_steps: int, field: str
) -> None:
    """A ConfigError names the argument."""
    with pytest.raises(ConfigError) as error:
        Session(agents, outcomes, n_steps)
    assert error.value.field == field


def test_run_session_needs_synchronous_strategies() -> None:
    """An async strategy belongs on the actors; run_session says so."""

    class Slow:
        async def _yes(self) -> bool:
            return True

        def respond(self, offer: Number, t: float) -> Awaitable[bool]:
            return self._yes()

        def propose(self, t: float) -> Number:
            return 1

    with pytest.raises(TypeError, match="synchronous"):
        run_session({"a": Slow(), "b": Slow()}, [1], 1)


# ---------------------------------------------------------------- properties

CURVES = st.one_of(
    st.sampled_from(sorted(EXPONENTS)).map(lambda s: (s, None)),
    st.floats(0.05, 20).map(lambda x: ("linear", x)),
)


@st.composite
def negotiations(draw: st.DrawFn) -> tuple[dict[str, AspirationStrategy], list[int], int]:
    """2-5 agents with random utilities whose ideals are outcomes, random curves and
    reserved utilities, over a random integer grid."""
    outcomes = sorted(draw(st.sets(st.integers(-20, 20), min_size=2, max_size=25)))
    strategies = {}
    for i in range(draw(st.integers(2, 5))):
        ideal = draw(st.sampled_from(outcomes))
        worst = draw(st.integers(-25, 25).filter(ideal.__ne__))
        name, exponent = draw(CURVES)
        reserved = draw(st.floats(0, 1))
        strategies[f"agent{i}"] = AspirationStrategy(
            Utility(ideal=ideal, worst=worst),
            outcomes,
            strategy=name,
            reserved=reserved,
            exponent=exponent,
        )
    return strategies, outcomes, draw(st.integers(1, 40))


@given(negotiations())
def test_agreements_are_individually_rational(
    case: tuple[dict[str, AspirationStrategy], list[int], int],
) -> None:
    """With the documented strategies (each agent's ideal an outcome), every agent gets at
    least its reserved utility from an agreement: u_i >= r_i."""
    strategies, outcomes, n_steps = case
    outcome = run_session(strategies, outcomes, n_steps)
    if outcome.agreed_value is not None:
        for strategy in strategies.values():
            assert round9(strategy.utility(outcome.agreed_value)) >= round9(strategy.reserved)


@given(
    half=st.integers(1, 30),
    curve=CURVES,
    reserved=st.floats(0, 0.6),
    n_steps=st.integers(1, 60),
)
def test_identical_curves_meet_in_the_middle(
    half: int, curve: tuple[str, float | None], reserved: float, n_steps: int
) -> None:
    """Mirror-image agents with the same curve on 0..2m agree in the middle, up to half the
    largest one-step concession of the curve plus one outcome (the grid's coarseness)."""
    name, exponent = curve
    outcomes = list(range(2 * half + 1))
    seller = AspirationStrategy(
        Utility(ideal=2 * half, worst=0),
        outcomes,
        strategy=name,
        reserved=reserved,
        exponent=exponent,
    )
    buyer = AspirationStrategy(
        Utility(ideal=0, worst=2 * half),
        outcomes,
        strategy=name,
        reserved=reserved,
        exponent=exponent,
    )
    outcome = run_session({"seller": seller, "buyer": buyer}, outcomes, n_steps)
    if outcome.agreed_value is None:
        return
    x = seller.exponent
    curve_values = [1.0] + [
        aspiration(relative_time(s, n_steps), reserved, x) for s in range(n_steps)
    ]
    jump = max(a - b for a, b in itertools.pairwise(curve_values))
    grid = 1 / (2 * half)
    assert abs(seller.utility(outcome.agreed_value) - 0.5) <= jump / 2 + grid + 1e-9


@pytest.mark.parametrize("name", ["boulware", "linear", "conceder"])
def test_fine_curves_meet_exactly_in_the_middle(name: str) -> None:
    """With many small concessions, the documented curves meet at the midpoint."""
    outcomes = list(range(101))
    seller = AspirationStrategy(Utility(ideal=100, worst=0), outcomes, strategy=name)
    buyer = AspirationStrategy(Utility(ideal=0, worst=100), outcomes, strategy=name)
    outcome = run_session({"seller": seller, "buyer": buyer}, outcomes, 2000)
    assert outcome.agreed_value == 50


@given(delta1=st.floats(0.05, 0.95), delta2=st.floats(0.05, 0.95))
def test_rubinstein_first_mover_share(delta1: float, delta2: float) -> None:
    """The session core with discounted subgame-perfect players gives the first mover
    (1 - d2) / (1 - d1 d2) in the limit: here 100 steps and a 1/10,000 grid, to 0.002."""
    outcome = bargain_discounted(delta1, delta2, n_steps=100, grid=10_000)
    assert outcome.step == 0
    assert outcome.agreed_value == pytest.approx(rubinstein_share(delta1, delta2), abs=2e-3)


def test_rubinstein_limit_converges() -> None:
    """The finite game's share approaches the limit as horizon and grid grow."""
    limit = rubinstein_share(0.9, 0.8)
    errors = [
        abs(float(bargain_discounted(0.9, 0.8, n_steps=n, grid=g).agreed_value or 0) - limit)
        for n, g in [(2, 10), (10, 100), (100, 10_000)]
    ]
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 1e-3


def test_short_discounted_games_by_hand() -> None:
    """One step: player 1 keeps all (player 2's last offer is never answered). Two steps
    with d = 0.5: rounds 0-2, shares 1, 0.5, 0.75 backwards from the last."""
    assert proposer_shares(0.5, 0.5, 1, 100) == [1.0]
    assert proposer_shares(0.5, 0.5, 3, 100) == [0.75, 0.5, 1.0]
    assert bargain_discounted(0.5, 0.5, n_steps=1, grid=100).agreed_value == 1.0
    assert bargain_discounted(0.5, 0.5, n_steps=2, grid=100).agreed_value == 0.75
    with pytest.raises(ConfigError):
        proposer_shares(1.0, 0.5, 3, 10)
    assert not math.isnan(rubinstein_share(0.0, 0.0))


MOVES = st.one_of(st.just("accept"), st.just("silent"), st.integers(-1, 4))


@given(
    n=st.integers(1, 4),
    n_steps=st.integers(1, 6),
    moves=st.lists(MOVES, min_size=30, max_size=30),
)
def test_any_moves_keep_the_rules(n: int, n_steps: int, moves: list[str | int]) -> None:
    """Whatever the agents do: the session ends within n_steps; an agreement is the last
    offer made, accepted by every other agent since it was made; nobody accepting means
    no agreement (unless alone)."""
    agents = [f"a{i}" for i in range(n)]
    session = Session(agents, [0, 1, 2, 3], n_steps)
    made: list[tuple[str, int]] = []
    accepted_since: set[str] = set()
    turns = 0
    while not session.done:
        turns += 1
        turn = session.turn()
        move = moves[(turns - 1) % len(moves)]
        if move == "accept":
            result = session.play(accept=True)
            if turn.offer is not None:
                accepted_since.add(turn.agent)
        elif move == "silent":
            result = session.play()
        else:
            assert isinstance(move, int)
            result = session.play(offer=move)
            if 0 <= move <= 3 and result in ("offered", "agreed"):
                made.append((turn.agent, move))
                accepted_since = set()
        if result == "agreed":
            proposer, value = made[-1]
            assert session.outcome().agreed_value == value
            assert accepted_since == set(agents) - {proposer}
    assert turns <= n * n_steps
    outcome = session.outcome()
    assert outcome.offers == len(made)
    if "accept" not in moves and n > 1:
        assert not outcome.agreement
