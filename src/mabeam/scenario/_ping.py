"""The ``ping`` scenario kind: a coordinator pings every agent once; ok when one answered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._kind import Kind, Outcome, RunFailure
from ._spec import AgentSpec, _Options

if TYPE_CHECKING:
    from ..protocols.ping import PingAgent, PingResult
    from ._run import ScenarioRun


class PingOptions(_Options, frozen=True, kw_only=True, tag="ping"):
    """``kind = "ping"``: the coordinator pings every agent once."""


def _agent(agent: AgentSpec) -> tuple[type[PingAgent], tuple[Any, ...], dict[str, Any]]:
    from ..protocols.ping import PingAgent

    return PingAgent, (agent.id,), {}


async def drive(run: ScenarioRun) -> Outcome:
    """Spawn agents and the coordinator, start the faults, ping, report."""
    from ..protocols.ping import PingCoordinator, RunPing

    await run.spawn_agents()
    timeout = run.options.reply_timeout_ms / 1000.0
    coordinator = await run.spawn_coordinator(PingCoordinator, run.agent_ids, timeout)
    await run.start_faults()
    result: PingResult = await coordinator.ask(RunPing(), timeout=None)
    if not result.answered:
        count = len(result.unanswered)
        message = f"none of the {count} agents answered within {timeout:g} s"
        return Outcome(ok=False, result=result, error=RunFailure("no_answers", message))
    return Outcome(ok=True, result=result)


KIND = Kind(options=PingOptions, drive=drive, agent=_agent)
"""``kind = "ping"``."""
