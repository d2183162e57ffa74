"""The name registry: whereis, unique names, names freed on exit and found again on restart."""

from __future__ import annotations

import anyio
import pytest

from mabeam import (
    ActorDeadError,
    ActorSystem,
    ChildSpec,
    ConfigError,
    NameTakenError,
    Supervisor,
)
from mabeam.runtime.supervision import count_children

from ._support import Crash, Echo, Events, Ping, Pong, Puppet, Recorder, StopMe, run_in


async def test_whereis_finds_a_named_actor() -> None:
    """spawn(name=...) registers the actor; whereis returns its ref, or None for unknown names."""
    async with ActorSystem() as system:
        ref = await system.spawn(Echo, name="echo")
        assert system.whereis("echo") is ref
        assert system.whereis("nobody") is None
        assert system.registered() == ["echo"]


async def test_context_whereis_looks_in_the_same_system() -> None:
    """An actor finds others by name through its context."""
    async with ActorSystem() as system:
        echo = await system.spawn(Echo, name="echo")
        puppet = await system.spawn(Puppet)

        async def look_up(actor: Puppet) -> object:
            return actor.context.whereis("echo")

        with anyio.fail_after(5):
            assert await run_in(puppet, look_up) is echo


async def test_a_taken_name_is_refused() -> None:
    """Spawning under a registered name raises NameTakenError and leaves the holder alone."""
    async with ActorSystem() as system:
        first = await system.spawn(Echo, name="svc")
        with pytest.raises(NameTakenError) as info:
            await system.spawn(Echo, name="svc")
        assert info.value.name == "svc"
        assert "'svc'" in str(info.value)
        assert system.whereis("svc") is first
        assert system.actor_count == 2  # root + first: nothing was started


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("stop", id="ref.stop"),
        pytest.param("crash", id="crash"),
        pytest.param("context-stop", id="context.stop"),
    ],
)
async def test_the_name_is_freed_when_the_actor_exits(how: str) -> None:
    """Whatever way a named actor exits, its name is free again and can be reused."""
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, Events(), name="svc")
        with anyio.fail_after(5):
            if how == "stop":
                await ref.stop()
            else:
                ref.tell(Crash() if how == "crash" else StopMe())
                await ref.join()
        assert system.whereis("svc") is None
        assert system.registered() == []
        again = await system.spawn(Echo, name="svc")
        assert system.whereis("svc") is again


async def test_a_restarted_actor_is_found_under_its_name_again() -> None:
    """A supervisor-restarted child is re-registered: the name gives the new ref."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, [ChildSpec("w", Recorder, (events, "w"), name="w")])
        first = system.whereis("w")
        assert first is not None
        first.tell(Crash())
        with anyio.fail_after(5):
            await first.join()
            await count_children(sup)  # the supervisor has handled the exit
            second = system.whereis("w")
            assert second is not None
            assert second is not first
            assert not first.is_alive
            assert await second.ask(Ping(1)) == Pong(1)
        assert second.name == "w"


async def test_register_and_unregister() -> None:
    """register names a running actor; unregister removes the name and the actor keeps running."""
    async with ActorSystem() as system:
        ref = await system.spawn(Echo)
        assert ref.label == f"Echo#{ref.id}"
        system.register("late", ref)
        assert system.whereis("late") is ref
        assert (ref.name, ref.label) == ("late", "late")
        system.unregister("late")
        assert system.whereis("late") is None
        assert ref.name is None
        assert ref.is_alive
        system.unregister("never-registered")  # a no-op
        system.register("again", ref)
        await ref.stop()
        assert system.whereis("again") is None


async def test_register_refuses_taken_names_and_second_names() -> None:
    """register raises NameTakenError for a taken name and ConfigError for a second name."""
    async with ActorSystem() as system:
        named = await system.spawn(Echo, name="one")
        other = await system.spawn(Echo)
        with pytest.raises(NameTakenError):
            system.register("one", other)
        with pytest.raises(ConfigError) as info:
            system.register("two", named)
        assert info.value.field == "name"
        assert system.registered() == ["one"]


@pytest.mark.parametrize("name", [pytest.param("", id="empty"), pytest.param(3, id="not-a-str")])
async def test_invalid_names_are_config_errors(name: object) -> None:
    """A name must be a non-empty string."""
    async with ActorSystem() as system:
        with pytest.raises(ConfigError) as info:
            await system.spawn(Echo, name=name)  # type: ignore[arg-type]
        assert info.value.field == "name"
        assert system.actor_count == 1


async def test_register_refuses_a_dead_actor_and_a_foreign_one() -> None:
    """A dead actor cannot be registered (ActorDeadError), nor one from another system."""
    async with ActorSystem() as system, ActorSystem("other") as other:
        dead = await system.spawn(Echo)
        await dead.stop()
        with pytest.raises(ActorDeadError):
            system.register("ghost", dead)
        foreign = await other.spawn(Echo)
        with pytest.raises(ConfigError) as info:
            system.register("foreign", foreign)
        assert info.value.field == "ref"
        assert system.registered() == []


async def test_registries_belong_to_their_system() -> None:
    """Two systems may use the same name: there is no global registry."""
    async with ActorSystem("a") as a, ActorSystem("b") as b:
        in_a = await a.spawn(Echo, name="svc")
        in_b = await b.spawn(Echo, name="svc")
        assert a.whereis("svc") is in_a
        assert b.whereis("svc") is in_b
