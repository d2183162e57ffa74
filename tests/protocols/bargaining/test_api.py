"""``negotiate`` and the actors: bargaining by messages, on virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

import mabeam.protocols.bargaining as package
from mabeam import ActorCrashedError, ActorSystem, ConfigError
from mabeam.protocols.bargaining import (
    Appraisal,
    Appraise,
    AspirationStrategy,
    BargainingResult,
    Mediator,
    NegotiatorAgent,
    TakeTurn,
    TurnTaken,
    Utility,
    negotiate,
)
from mabeam.protocols.bargaining.strategies import Number
from mabeam.runtime import Actor

pytestmark = pytest.mark.virtual_time

ZERO_TO_TEN: list[int | float] = list(range(11))
SELLER = Utility(ideal=10, worst=0)
BUYER = Utility(ideal=0, worst=10)


async def spawn(system: ActorSystem, name: str, utility: Utility, strategy: str = "linear") -> str:
    await system.spawn(
        NegotiatorAgent, AspirationStrategy(utility, ZERO_TO_TEN, strategy=strategy), name=name
    )
    return name


class SlowLinear:
    """A linear strategy that thinks for ``delay`` seconds per answer (an LLM, say)."""

    def __init__(self, utility: Utility, delay: float) -> None:
        self.inner = AspirationStrategy(utility, ZERO_TO_TEN)
        self.delay = delay

    async def respond(self, offer: Number, t: float) -> bool:
        await asyncio.sleep(self.delay)
        return self.inner.respond(offer, t)

    async def propose(self, t: float) -> Number:
        await asyncio.sleep(self.delay)
        return self.inner.propose(t)


class Crashing(Actor):
    """Raises on every request: counts as silent."""

    async def receive(self, message: Any) -> Any:
        raise RuntimeError("broken negotiator")


class Odd(Actor):
    """Answers with something that is no move, or a move for another step."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, TakeTurn) and message.step % 2:
            return TurnTaken(step=message.step + 1, offer=5)
        return "hello"


@pytest.mark.parametrize(
    ("seller", "buyer", "value", "step"),
    [
        pytest.param("linear", "linear", 5, 5, id="linear-linear"),
        pytest.param("boulware", "boulware", 4, 9, id="boulware-boulware"),
        pytest.param("conceder", "conceder", 5, 0, id="conceder-conceder"),
        pytest.param("boulware", "conceder", 8, 7, id="boulware-conceder"),
    ],
)
async def test_worked_examples_on_actors(seller: str, buyer: str, value: int, step: int) -> None:
    """PROTOCOLS.md's four examples, by messages between a mediator and two agents."""
    async with ActorSystem() as system:
        agents = [
            await spawn(system, "seller", SELLER, seller),
            await spawn(system, "buyer", BUYER, buyer),
        ]
        result = await negotiate(system, agents, outcome_range=(0, 10), n_steps=10)
    assert (result.agreed_value, result.step, result.agreement) == (value, step, True)
    assert result.error is None


async def test_linear_result_fields() -> None:
    """The result carries the offers, the analysis and the frontier; msgspec-encodable."""
    async with ActorSystem() as system:
        seller = await spawn(system, "seller", SELLER)
        buyer = await system.spawn(
            NegotiatorAgent, AspirationStrategy(BUYER, ZERO_TO_TEN), name="buyer"
        )
        result = await negotiate(system, [seller, buyer], outcomes=ZERO_TO_TEN, n_steps=10)
    assert result == BargainingResult(
        agreement=True,
        offers=11,
        steps=6,
        agreed_value=5,
        step=5,
        satisfaction_scores={"seller": 0.5, "buyer": 0.5},
        concessions={"seller": 0.5, "buyer": 0.5},
        nash_value=5,
        pareto_optimal=True,
        pareto_frontier=ZERO_TO_TEN,
    )
    assert msgspec.json.decode(msgspec.json.encode(result), type=BargainingResult) == result


async def test_missing_agent_counts_as_rejecting_and_the_deadline_holds() -> None:
    """An agent that is not running never accepts: no agreement after n_steps, and the
    run takes at most n_steps x agents x reply_timeout of (virtual) time."""
    async with ActorSystem() as system:
        seller = await spawn(system, "seller", SELLER, "conceder")
        loop = asyncio.get_running_loop()
        start = loop.time()
        with capture_logs() as logs:
            result = await negotiate(
                system, [seller, "ghost"], outcomes=ZERO_TO_TEN, n_steps=5, reply_timeout=0.5
            )
        elapsed = loop.time() - start
    assert result == BargainingResult(agreement=False, offers=5, steps=5, error="no_agreement")
    assert elapsed <= 5 * 2 * 0.5
    assert [e["event"] for e in logs if e["log_level"] == "info"] == [
        "bargaining_started",
        "bargaining_failed",
    ]


async def test_crashing_and_odd_agents_are_silent() -> None:
    """A crash on a request, or an answer that is no move for this step, is silence."""
    async with ActorSystem() as system:
        seller = await spawn(system, "seller", SELLER, "conceder")
        await system.spawn(Crashing, name="crashing")
        await system.spawn(Odd, name="odd")
        crashed = await negotiate(system, [seller, "crashing"], outcomes=ZERO_TO_TEN, n_steps=3)
        odd = await negotiate(system, ["odd", seller], outcomes=ZERO_TO_TEN, n_steps=3)
    assert (crashed.agreement, crashed.offers, crashed.error) == (False, 3, "no_agreement")
    assert (odd.agreement, odd.offers) == (False, 3)


async def test_slow_agent_costs_time_not_correctness() -> None:
    """An async strategy that takes 0.2 s per answer (under the 1 s timeout) reaches the
    same agreement as a fast one, later."""
    loop = asyncio.get_running_loop()
    async with ActorSystem() as system:
        await spawn(system, "seller", SELLER)
        await spawn(system, "buyer", BUYER)
        start = loop.time()
        fast = await negotiate(system, ["seller", "buyer"], outcomes=ZERO_TO_TEN, n_steps=10)
        fast_time = loop.time() - start
        await system.spawn(NegotiatorAgent, SlowLinear(BUYER, 0.2), name="slow")
        start = loop.time()
        slow = await negotiate(system, ["seller", "slow"], outcomes=ZERO_TO_TEN, n_steps=10)
        slow_time = loop.time() - start
    assert (slow.agreed_value, slow.step) == (fast.agreed_value, fast.step) == (5, 5)
    assert slow_time > fast_time + 1.0
    # The slow agent's strategy has its utility under .inner: it does not report one.
    assert slow.satisfaction_scores == {"seller": 0.5}
    assert slow.nash_value is None


async def test_agent_slower_than_the_timeout_is_silent() -> None:
    """Answers after the reply timeout are too late: the agent never counts as accepting."""
    async with ActorSystem() as system:
        await spawn(system, "seller", SELLER, "conceder")
        await system.spawn(NegotiatorAgent, SlowLinear(BUYER, 2.0), name="slow")
        result = await negotiate(
            system, ["seller", "slow"], outcomes=ZERO_TO_TEN, n_steps=3, reply_timeout=1.0
        )
    assert (result.agreement, result.error) == (False, "no_agreement")


async def test_negotiator_reports_a_given_utility() -> None:
    """``utility`` and ``reserved`` given to the agent are what it tells the analysis."""
    async with ActorSystem() as system:
        ref = await system.spawn(
            NegotiatorAgent, SlowLinear(BUYER, 0.0), utility=BUYER, reserved=0.25
        )
        appraisal = await ref.ask(Appraise(session="s", outcomes=[0, 5, 10]))
        with pytest.raises(ActorCrashedError):
            await ref.ask("hello")
    assert appraisal == Appraisal(utilities=[1.0, 0.5, 0.0], reserved=0.25)


async def test_mediator_refuses_other_messages() -> None:
    """A Mediator answers only RunBargaining: anything else crashes the request."""
    async with ActorSystem() as system:
        mediator = await system.spawn(Mediator, ["a"], [1])
        with pytest.raises(ActorCrashedError):
            await mediator.ask("hello")


async def test_three_agents_and_the_mediators_name() -> None:
    """Any number of agents: a third (a conceder) joins; the mediator runs under ``name``."""
    async with ActorSystem() as system:
        await spawn(system, "seller", SELLER)
        await spawn(system, "buyer", BUYER)
        await spawn(system, "broker", Utility(ideal=5, worst=0), "conceder")
        result = await negotiate(
            system,
            ["seller", "buyer", "broker"],
            outcomes=ZERO_TO_TEN,
            n_steps=10,
            name="mediator",
        )
        assert system.whereis("mediator") is None  # stopped at the end
    assert result.agreement
    assert result.agreed_value == 5
    assert set(result.satisfaction_scores or {}) == {"seller", "buyer", "broker"}


@pytest.mark.parametrize(
    ("agents", "kwargs", "field"),
    [
        pytest.param("seller", {"outcomes": [1]}, "agents", id="string"),
        pytest.param([], {"outcomes": [1]}, "agents", id="empty"),
        pytest.param(["a", "a"], {"outcomes": [1]}, "agents[1]", id="twice"),
        pytest.param([3], {"outcomes": [1]}, "agents[0]", id="not-a-name"),
        pytest.param(["a"], {}, "outcomes", id="no-outcomes"),
        pytest.param(["a"], {"outcomes": [1], "reply_timeout": 0}, "reply_timeout", id="timeout"),
        pytest.param(["a"], {"outcomes": [1], "reply_timeout": "1"}, "reply_timeout", id="type"),
        pytest.param(["a"], {"outcomes": [1], "n_steps": 0}, "n_steps", id="steps"),
    ],
)
async def test_bad_arguments_are_refused(
    agents: Sequence[Any], kwargs: dict[str, Any], field: str
) -> None:
    """A ConfigError names the argument; no mediator is left behind."""
    async with ActorSystem() as system:
        with pytest.raises(ConfigError) as error:
            await negotiate(system, agents, **kwargs)
    assert error.value.field == field


def test_exports_are_sorted_and_real() -> None:
    """``__all__`` is sorted as ruff sorts it and every name exists."""

    def key(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)

    assert package.__all__ == sorted(package.__all__, key=key)
    assert [name for name in package.__all__ if not hasattr(package, name)] == []
