"""An example of testing your own agent with mabeam's pytest plugin (mabeam.testing)."""

from typing import Any

import anyio
import pytest

from mabeam import Actor, ActorSystem, AskTimeoutError


class Thermostat(Actor):
    """Holds a temperature: a number sets it (and logs an event), "get" reads it."""

    def __init__(self, value: float) -> None:
        self.value = value

    async def receive(self, message: Any) -> Any:
        if message == "get":
            return self.value
        if message == "slow":
            await anyio.sleep(30)  # far longer than any caller waits
            return None
        self.value = float(message)
        self.context.log.info("temperature_set", value=self.value)
        return self.value


@pytest.mark.virtual_time
async def test_a_slow_answer_times_out_on_virtual_time(actor_system: ActorSystem) -> None:
    thermostat = await actor_system.spawn(Thermostat, 20.0, name="thermostat")
    start = anyio.current_time()
    with pytest.raises(AskTimeoutError):
        await thermostat.ask("slow", timeout=5.0)  # 5 virtual seconds, no wall time
    assert anyio.current_time() - start == pytest.approx(5.0)


async def test_setting_logs_an_event(actor_system: ActorSystem, mabeam_events: Any) -> None:
    thermostat = await actor_system.spawn(Thermostat, 20.0, name="thermostat")
    assert await thermostat.ask(21.5) == 21.5
    assert await thermostat.ask("get") == 21.5
    assert mabeam_events.find("temperature_set", value=21.5, actor="thermostat")
    assert "actor_spawned" in mabeam_events.names()
