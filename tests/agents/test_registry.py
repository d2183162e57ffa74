"""The agent registry through real actors: lifecycle, supervision, search, health, events."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

from mabeam import Actor, ActorStartError, ActorSystem, ConfigError
from mabeam.agents import (
    AgentConfig,
    AgentEvent,
    AgentRegistry,
    HealthCheck,
    RegistryError,
)

pytestmark = pytest.mark.virtual_time


class Crash(msgspec.Struct, frozen=True):
    """Make a Worker raise."""


class Count(msgspec.Struct, frozen=True):
    """Ask a Worker how many messages it has handled since it started."""


class Worker(Actor):
    """Answers health checks; counts messages; crashes on Crash."""

    def __init__(self, label: str = "w") -> None:
        self.label = label
        self.seen = 0

    async def receive(self, message: Any) -> Any:
        self.seen += 1
        if isinstance(message, HealthCheck):
            return {"label": self.label}
        if isinstance(message, Crash):
            raise RuntimeError("asked to crash")
        if isinstance(message, Count):
            return self.seen
        return None


class Silent(Actor):
    """Never answers a health check in time."""

    async def receive(self, message: Any) -> Any:
        await asyncio.sleep(10)


class BrokenStart(Actor):
    async def on_start(self) -> None:
        raise RuntimeError("no")


class Collector(Actor):
    """Keeps every AgentEvent told to it; answers 'events' with them."""

    def __init__(self) -> None:
        self.events: list[AgentEvent] = []

    async def receive(self, message: Any) -> Any:
        if isinstance(message, AgentEvent):
            self.events.append(message)
            return None
        return list(self.events)


def config(agent: str, *capabilities: str, **kwargs: Any) -> AgentConfig:
    return AgentConfig(id=agent, actor=Worker, capabilities=capabilities, **kwargs)


async def test_register_start_stop_and_status() -> None:
    """An agent goes registered -> running -> stopped; it runs under its id."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        info = await registry.register(config("coder", "python"))
        assert info.status == "registered"
        assert registry.whereis("coder") is None
        assert (await registry.start_agent("coder")).status == "running"
        ref = registry.whereis("coder")
        assert ref is not None
        assert await ref.ask(Count()) == 1
        stopped = await registry.stop_agent("coder")
        assert stopped.status == "stopped"
        assert registry.whereis("coder") is None
        assert (await registry.status("coder")).status == "stopped"
        assert (await registry.start_agent("coder")).status == "running"


async def test_crashed_agent_is_restarted_by_the_supervisor() -> None:
    """A permanent agent that crashes comes back; the registry counts the restart."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        await registry.register(config("a"), start=True)
        ref = registry.whereis("a")
        assert ref is not None
        ref.tell(Crash())
        await ref.join()
        info = await registry.status("a")
        assert info.status == "running"
        assert info.restarts == 1
        assert info.last_exit is not None
        assert "asked to crash" in info.last_exit
        again = registry.whereis("a")
        assert again is not None
        assert again is not ref
        assert await again.ask(Count()) == 1  # fresh state


async def test_temporary_agent_that_crashes_stays_crashed() -> None:
    """A temporary agent is not restarted: status crashed."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        await registry.register(config("t", restart="temporary"), start=True)
        ref = registry.whereis("t")
        assert ref is not None
        ref.tell(Crash())
        await ref.join()
        assert (await registry.status("t")).status == "crashed"


async def test_agent_stopping_itself_normally_is_stopped() -> None:
    """A transient agent that exits normally is not restarted: status stopped."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        await registry.register(config("n", restart="transient"), start=True)
        ref = registry.whereis("n")
        assert ref is not None
        await ref.stop()
        assert (await registry.status("n")).status == "stopped"


async def test_restart_agent_gives_fresh_state() -> None:
    """restart_agent stops and starts again: a new incarnation, restarts counted."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        await registry.register(config("a"), start=True)
        first = registry.whereis("a")
        info = await registry.restart_agent("a")
        assert info.restarts == 1
        assert registry.whereis("a") is not first
        await registry.stop_agent("a")
        assert (await registry.restart_agent("a")).status == "running"


async def test_find_by_capabilities_requires_all_of_them() -> None:
    """find() lists, sorted, the agents with every capability asked for (and status)."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        await registry.register(config("z", "python", "sql"), start=True)
        await registry.register(config("b", "python"))
        await registry.register(config("a", "python", "sql", "ml"))
        assert await registry.find(["python"]) == ["a", "b", "z"]
        assert await registry.find(["python", "sql"]) == ["a", "z"]
        assert await registry.find(["sql", "ml"]) == ["a"]
        assert await registry.find(["rust"]) == []
        assert await registry.find([]) == ["a", "b", "z"]
        assert await registry.find(["python"], status="running") == ["z"]
        assert [i.id for i in await registry.list_agents()] == ["a", "b", "z"]


async def test_update_metadata_and_capabilities() -> None:
    """update() merges metadata and replaces capabilities; find follows."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        await registry.register(config("a", "x", metadata={"team": "red"}))
        info = await registry.update("a", metadata={"tier": 2}, capabilities=["y"])
        assert info.metadata == {"team": "red", "tier": 2}
        assert await registry.find(["y"]) == ["a"]
        assert await registry.find(["x"]) == []


async def test_health_pings_by_ask() -> None:
    """Healthy when it answers in time; timeout, not running, or running-only otherwise."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        await registry.register(config("ok", kwargs={"label": "fine"}), start=True)
        await registry.register(AgentConfig(id="slow", actor=Silent), start=True)
        await registry.register(AgentConfig(id="quiet", actor=Silent, health_check=False))
        health = await registry.health("ok")
        assert health.healthy
        assert health.detail == {"label": "fine"}
        slow = await registry.health("slow", timeout=0.5)
        assert not slow.healthy
        assert slow.detail == "timeout"
        quiet = await registry.health("quiet")
        assert (quiet.healthy, quiet.detail) == (False, "not_running")
        await registry.start_agent("quiet")
        assert (await registry.health("quiet")).healthy


async def test_health_of_an_agent_crashing_on_the_check() -> None:
    """An agent that crashes answering the health check is unhealthy (and restarted)."""

    class Fragile(Actor):
        async def receive(self, message: Any) -> Any:
            raise RuntimeError("fragile")

    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        await registry.register(AgentConfig(id="f", actor=Fragile), start=True)
        health = await registry.health("f")
        assert not health.healthy
        assert "crashed" in str(health.detail)
        assert (await registry.status("f")).status == "running"


async def test_errors_are_clear() -> None:
    """Unknown ids, taken ids, double starts and bad configs raise named errors."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        with pytest.raises(RegistryError, match="no agent 'ghost'"):
            await registry.status("ghost")
        await registry.register(config("a"), start=True)
        with pytest.raises(RegistryError, match="already registered"):
            await registry.register(config("a"))
        with pytest.raises(RegistryError, match="is running"):
            await registry.start_agent("a")
        await registry.stop_agent("a")
        with pytest.raises(RegistryError, match="not running"):
            await registry.stop_agent("a")
        with pytest.raises(ConfigError, match="actor"):
            AgentConfig(id="x", actor=int)
        with pytest.raises(ConfigError, match="id"):
            AgentConfig(id="", actor=Worker)
        with pytest.raises(ConfigError, match="restart"):
            AgentConfig(id="x", actor=Worker, restart="sometimes")  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match=r"capabilities\[0\]"):
            AgentConfig(id="x", actor=Worker, capabilities=("",))
        with pytest.raises(ConfigError, match="cannot import"):
            await registry.register(AgentConfig(id="y", actor="no.such.module:Thing"))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"capabilities": "python"}, "capabilities", id="capabilities-str"),
        pytest.param({"capabilities": ("a", 3)}, "capabilities[1]", id="capability-int"),
        pytest.param({"metadata": [("k", 1)]}, "metadata", id="metadata-list"),
        pytest.param({"metadata": {1: "x"}}, "metadata", id="metadata-int-key"),
        pytest.param({"args": 5}, "args", id="args-int"),
        pytest.param({"kwargs": {1: 2}}, "kwargs", id="kwargs-int-key"),
        pytest.param({"health_check": "yes"}, "health_check", id="health-check-str"),
    ],
)
def test_bad_config_fields_are_named(kwargs: dict[str, Any], field: str) -> None:
    """Each malformed AgentConfig field is a ConfigError naming it (a bare string is not a
    list of capabilities)."""
    with pytest.raises(ConfigError) as caught:
        AgentConfig(id="x", actor=Worker, **kwargs)
    assert caught.value.field == field


async def test_bad_requests_are_refused_and_the_registry_lives_on() -> None:
    """Malformed update / find / health arguments are ConfigErrors raised before the
    registry actor sees them: it keeps running with its agents (it crashed, losing every
    record, on update(metadata=[...]))."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        await registry.register(config("a", "x"), start=True)
        calls = [
            ("metadata", registry.update("a", metadata=[1])),  # type: ignore[arg-type]
            ("capabilities", registry.update("a", capabilities="xy")),
            ("capabilities", registry.find("x")),
            ("status", registry.find(["x"], status="runing")),  # type: ignore[arg-type]
            ("timeout", registry.health("a", timeout=0)),
        ]
        for field, call in calls:
            with pytest.raises(ConfigError) as caught:
                await call
            assert caught.value.field == field
        assert registry.ref.is_alive
        assert await registry.find(["x"], status="running") == ["a"]


async def test_update_without_changes_is_no_event() -> None:
    """update() with nothing to change tells subscribers nothing."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        collector = await system.spawn(Collector)
        await registry.register(config("a"))
        await registry.subscribe(collector)
        assert (await registry.update("a")).id == "a"
        await registry.update("a", capabilities=["y"])
        events: list[AgentEvent] = await collector.ask("events")
        assert [(e.kind, e.reason) for e in events] == [("updated", "capabilities")]


async def test_actor_by_import_path() -> None:
    """An actor given as 'module:Class' or 'module.Class' is imported at start."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        info = await registry.register(
            AgentConfig(id="p", actor="mabeam.protocols.ping:PingAgent", args=("p",)), start=True
        )
        assert info.actor == "mabeam.protocols.ping.PingAgent"
        await registry.register(
            AgentConfig(id="q", actor="mabeam.protocols.ping.PingAgent", args=("q",)), start=True
        )
        assert registry.whereis("q") is not None


async def test_failed_start_is_reported() -> None:
    """An agent whose on_start raises: ActorStartError, status failed, event start_failed."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        with capture_logs() as logs, pytest.raises(ActorStartError):
            await registry.register(AgentConfig(id="b", actor=BrokenStart), start=True)
        assert (await registry.status("b")).status == "failed"
        assert "agent_start_failed" in [e["event"] for e in logs]


async def test_unregister_stops_and_forgets() -> None:
    """unregister stops a running agent and removes it."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        await registry.register(config("a"), start=True)
        await registry.unregister("a")
        assert registry.whereis("a") is None
        assert await registry.list_agents() == []
        await registry.stop()
        await registry.stop()  # stopping twice is harmless


async def test_every_change_is_an_event_for_subscribers_and_in_the_log() -> None:
    """Subscribers are told each change in order; the same changes are structlog events."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        collector = await system.spawn(Collector)
        await registry.subscribe(collector)
        with capture_logs() as logs:
            await registry.register(config("a"), start=True)
            ref = registry.whereis("a")
            assert ref is not None
            ref.tell(Crash())
            await ref.join()
            await registry.status("a")
            await registry.update("a", metadata={"k": 1})
            await registry.restart_agent("a")
            await registry.stop_agent("a")
            await registry.unregister("a")
        events: list[AgentEvent] = await collector.ask("events")
        kinds = [
            "registered",
            "started",
            "restarted",
            "updated",
            "restarted",
            "stopped",
            "unregistered",
        ]
        assert [e.kind for e in events] == kinds
        assert events[2].reason is not None
        assert "asked to crash" in events[2].reason
        assert [e["event"] for e in logs if e["event"].startswith("agent_")] == [
            f"agent_{k}" for k in kinds
        ]
        assert all("agent" in e and "status" in e for e in logs if e["event"].startswith("agent_"))
        await registry.unsubscribe(collector)
        await registry.register(config("b"))
        assert len(await collector.ask("events")) == len(kinds)


async def test_dead_subscriber_is_dropped() -> None:
    """A subscriber that exits is forgotten (no dead letters for it later)."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system)
        collector = await system.spawn(Collector)
        await registry.subscribe(collector)
        await collector.stop()
        await registry.register(config("a"))
        assert system.dead_letters.by_reason == {}


async def test_supervisor_giving_up_marks_agents_crashed() -> None:
    """Past the restart intensity the agents' supervisor gives up: every agent crashed,
    and a fresh supervisor takes new starts."""
    async with ActorSystem() as system:
        registry = await AgentRegistry.start(system, intensity=0)
        collector = await system.spawn(Collector)
        await registry.subscribe(collector)
        await registry.register(config("a"), start=True)
        await registry.register(config("b"), start=True)
        ref = registry.whereis("a")
        assert ref is not None
        ref.tell(Crash())
        await ref.join()
        statuses = {i.id: i.status for i in await registry.list_agents()}
        assert statuses["a"] == "crashed"
        assert "asked to crash" in str((await registry.status("a")).last_exit)
        assert statuses["b"] == "crashed"  # shut down by its supervisor giving up, not stopped
        infos = {i.id: i.last_exit for i in await registry.list_agents()}
        assert infos["b"] == "supervisor_gave_up"
        assert (await registry.start_agent("a")).status == "running"
