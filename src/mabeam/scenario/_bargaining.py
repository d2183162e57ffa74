"""The ``bargaining`` scenario kind: a Mediator coordinator and one NegotiatorAgent per agent.

Each agent bargains with an :class:`AspirationStrategy` from its table (``utility``,
``reserved``, ``strategy`` — linear by default — and ``exponent``) over the outcomes of
``[protocol]`` (``outcomes``, or ``outcome_range`` with ``outcome_step``). Agreement:
ok, ``result`` is the :class:`BargainingResult`; none: ``no_agreement`` (exit 1).
"""

from __future__ import annotations

from typing import Any

from ..protocols.bargaining import (
    AspirationStrategy,
    BargainingResult,
    Mediator,
    NegotiatorAgent,
    RunBargaining,
    Utility,
    outcomes_of,
)
from ..protocols.bargaining.session import relative_time
from ._run import Outcome, RunError, ScenarioRun, register_protocol
from ._schema import AgentSpec, BargainingOptions

SESSION = "bargaining"


def outcomes(options: BargainingOptions) -> list[int | float]:
    """The scenario's outcomes, ascending."""
    return outcomes_of(options.outcomes, options.outcome_range, options.outcome_step)


def strategy(agent: AgentSpec, values: list[int | float]) -> AspirationStrategy:
    """The agent's aspiration strategy from its table (its utility is required)."""
    assert agent.utility is not None  # checked when the scenario was loaded
    return AspirationStrategy(
        Utility(ideal=agent.utility.ideal, worst=agent.utility.worst),
        values,
        strategy=agent.strategy or "linear",
        reserved=agent.reserved,
        exponent=agent.exponent,
    )


async def drive(run: ScenarioRun) -> Outcome:
    """Spawn the negotiators and the mediator, start the faults, bargain, report."""
    options: BargainingOptions = run.options
    values = outcomes(options)

    def agent(spec: AgentSpec) -> tuple[type[NegotiatorAgent], tuple[Any, ...], dict[str, Any]]:
        return NegotiatorAgent, (strategy(spec, values),), {}

    await run.spawn_agents(agent)
    mediator = await run.spawn_coordinator(
        Mediator,
        run.agent_ids,
        values,
        n_steps=options.n_steps,
        reply_timeout=options.reply_timeout_ms / 1000.0,
        session=SESSION,
    )
    await run.start_faults()
    result: BargainingResult = await mediator.ask(RunBargaining(), timeout=None)
    if not result.agreement:
        t = relative_time(options.n_steps - 1, options.n_steps)
        message = (
            f"no agreement after {result.steps} steps ({result.offers} offers, last t = {t:.3f})"
        )
        return Outcome(ok=False, error=RunError(code="no_agreement", message=message))
    return Outcome(ok=True, result=result)


def register() -> None:
    """Make ``kind = "bargaining"`` runnable."""
    register_protocol("bargaining", drive)
