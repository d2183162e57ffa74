"""The ``bargaining`` scenario kind: a Mediator coordinator and one NegotiatorAgent per agent.

Each agent bargains with an :class:`AspirationStrategy` from its table (``utility``,
``reserved``, ``strategy`` — linear by default — and ``exponent``) over the outcomes of
``[protocol]`` (``outcomes``, or ``outcome_range`` with ``outcome_step``). Agreement:
ok, ``result`` is the :class:`BargainingResult`; none: ``no_agreement`` (exit 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import ConfigError
from ._kind import Kind, Outcome, RunFailure
from ._spec import MAX_OUTCOMES, AgentSpec, Count, NonEmpty, Number, _Options

if TYPE_CHECKING:
    from ..protocols.bargaining import AspirationStrategy, BargainingResult, NegotiatorAgent
    from ._load import Rules
    from ._run import ScenarioRun

SESSION = "bargaining"


class BargainingOptions(_Options, frozen=True, kw_only=True, tag="bargaining"):
    """``kind = "bargaining"``: alternating offers over one numeric issue."""

    outcomes: NonEmpty[Number] | None = None
    outcome_range: tuple[Number, Number] | None = None
    outcome_step: Count = 1
    n_steps: Count = 100

    def _check(self) -> None:
        if (self.outcomes is None) == (self.outcome_range is None):
            field = "outcomes" if self.outcomes is None else "outcome_range"
            raise ConfigError(field, "give exactly one of outcomes and outcome_range")
        if self.outcome_range is not None:
            low, high = self.outcome_range
            if high < low:
                raise ConfigError("outcome_range", f"needs lo <= hi, got [{low}, {high}]")
            if (float(high) - float(low)) / self.outcome_step >= MAX_OUTCOMES:
                problem = f"spells out more than {MAX_OUTCOMES} outcomes (raise outcome_step)"
                raise ConfigError("outcome_range", problem)


def check(rules: Rules, options: BargainingOptions) -> None:
    """Every agent has a utility; strategies are bargaining strategies."""
    for i, spec in enumerate(rules.scenario.agents):
        if spec.utility is None:
            rules.fail(f"agents[{i}].utility", "required ({ideal = x, worst = y})")
    rules.strategies()


def outcomes(options: BargainingOptions) -> list[int | float]:
    """The scenario's outcomes, ascending."""
    from ..protocols.bargaining import outcomes_of

    return outcomes_of(options.outcomes, options.outcome_range, options.outcome_step)


def strategy(agent: AgentSpec, values: list[int | float]) -> AspirationStrategy:
    """The agent's aspiration strategy from its table (its utility is required)."""
    from ..protocols.bargaining import AspirationStrategy, Utility

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
    from ..protocols.bargaining import Mediator, NegotiatorAgent, RunBargaining
    from ..protocols.bargaining.session import relative_time

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
        return Outcome(ok=False, error=RunFailure(code="no_agreement", message=message))
    return Outcome(ok=True, result=result)


KIND = Kind(options=BargainingOptions, drive=drive, check=check)
"""``kind = "bargaining"``: its agents' actors need the outcomes, so drive spawns them."""
