"""The ``ping`` scenario kind: a coordinator pings every agent once; ok when one answered."""

from __future__ import annotations

from typing import Any

from ..protocols.ping import PingAgent, PingCoordinator, PingResult, RunPing
from ._run import Outcome, RunError, ScenarioRun, register_protocol
from ._schema import AgentSpec


def _agent(agent: AgentSpec) -> tuple[type[PingAgent], tuple[Any, ...], dict[str, Any]]:
    return PingAgent, (agent.id,), {}


async def drive(run: ScenarioRun) -> Outcome:
    """Spawn agents and the coordinator, start the faults, ping, report."""
    await run.spawn_agents(_agent)
    timeout = run.options.reply_timeout_ms / 1000.0
    coordinator = await run.spawn_coordinator(PingCoordinator, run.agent_ids, timeout)
    await run.start_faults()
    result: PingResult = await coordinator.ask(RunPing(), timeout=None)
    if not result.answered:
        count = len(result.unanswered)
        message = f"none of the {count} agents answered within {timeout:g} s"
        return Outcome(ok=False, result=result, error=RunError("no_answers", message))
    return Outcome(ok=True, result=result)


def register() -> None:
    """Make ``kind = "ping"`` runnable."""
    register_protocol("ping", drive)
