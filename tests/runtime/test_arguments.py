"""Bad durations get a clear error naming the parameter and what is allowed, before
anything is sent or scheduled; good ones (ints, floats, math.inf where it means forever)
work as before."""

from __future__ import annotations

import math
from typing import Any

import anyio
import pytest

from mabeam import Actor, ActorSystem, ConfigError

from ._support import Echo

BAD_TYPES = [
    pytest.param("5", id="str"),
    pytest.param(True, id="bool"),
    pytest.param([1], id="list"),
]
NEGATIVE_OR_NAN = [pytest.param(-1, id="negative"), pytest.param(math.nan, id="nan")]


@pytest.mark.parametrize("timeout", BAD_TYPES)
async def test_ask_timeout_of_a_wrong_type_is_a_type_error(timeout: Any) -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Echo)
        with pytest.raises(TypeError, match=r"^timeout: must be seconds >= 0 .*got "):
            await ref.ask("hi", timeout=timeout)


@pytest.mark.parametrize("timeout", NEGATIVE_OR_NAN)
async def test_ask_timeout_out_of_range_is_a_config_error(timeout: float) -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Echo)
        with pytest.raises(ConfigError, match=r"^timeout: must be seconds >= 0") as caught:
            await ref.ask("hi", timeout=timeout)
        assert caught.value.field == "timeout"


class Counting(Actor):
    def __init__(self) -> None:
        self.seen = 0

    async def receive(self, message: Any) -> Any:
        self.seen += 1
        return self.seen


async def test_a_rejected_ask_sends_nothing() -> None:
    """The check runs before the message is sent: the actor sees only the good asks."""
    async with ActorSystem() as system:
        ref = await system.spawn(Counting)
        with pytest.raises(ConfigError):
            await ref.ask("x", timeout=-1)
        assert await ref.ask("y", timeout=1) == 1


@pytest.mark.parametrize("timeout", [1, 2.5, math.inf, None])
async def test_ask_accepts_ints_floats_and_forever(timeout: float | None) -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Echo)
        with anyio.fail_after(5):
            assert await ref.ask("hi", timeout=timeout) == "hi"


class TimerProbe(Actor):
    """Tries a timer with the value it is asked with; answers the error (or 'ok')."""

    async def receive(self, message: Any) -> Any:
        method, value = message
        try:
            timer = getattr(self.context, method)(value, "tick")
        except (TypeError, ValueError) as exc:
            return exc
        timer.cancel()
        return "ok"


@pytest.mark.parametrize(
    ("method", "value", "error", "text"),
    [
        ("send_after", "5", TypeError, r"^delay: must be seconds >= 0, got '5' \(str\)$"),
        ("send_after", True, TypeError, r"^delay: must be seconds >= 0, got True \(bool\)$"),
        ("send_after", -1, ConfigError, r"^delay: must be seconds >= 0, got -1$"),
        ("send_after", math.nan, ConfigError, r"^delay: must be seconds >= 0, got nan$"),
        ("send_after", math.inf, ConfigError, r"^delay: must be seconds >= 0 and finite"),
        ("send_after", 10**400, ConfigError, r"^delay: must be seconds >= 0 and finite"),
        ("send_interval", "1", TypeError, r"^interval: must be seconds > 0, got '1' \(str\)$"),
        ("send_interval", 0, ConfigError, r"^interval: must be seconds > 0, got 0$"),
        ("send_interval", -0.5, ConfigError, r"^interval: must be seconds > 0, got -0.5$"),
        ("send_interval", math.nan, ConfigError, r"^interval: must be seconds > 0, got nan$"),
        ("send_interval", math.inf, ConfigError, r"^interval: must be seconds > 0 and finite"),
    ],
)
async def test_timer_durations_are_checked(
    method: str, value: Any, error: type[Exception], text: str
) -> None:
    async with ActorSystem() as system:
        probe = await system.spawn(TimerProbe)
        answer = await probe.ask((method, value))
        assert type(answer) is error
        assert answer.args[0] == answer.args[0].strip()
        with pytest.raises(error, match=text):
            raise answer


@pytest.mark.parametrize(
    ("method", "value"), [("send_after", 0), ("send_after", 2), ("send_interval", 0.5)]
)
async def test_timer_durations_that_are_fine(method: str, value: float) -> None:
    async with ActorSystem() as system:
        probe = await system.spawn(TimerProbe)
        assert await probe.ask((method, value)) == "ok"


def test_check_seconds_none_where_not_allowed_and_optional_without_infinity() -> None:
    """The helper's other shapes: None refused unless allowed; allowed None stays None."""
    from mabeam.runtime._checks import check_seconds

    with pytest.raises(TypeError, match=r"^shutdown: must be seconds >= 0, got None$"):
        check_seconds("shutdown", None)
    assert check_seconds("shutdown", None, allow_none=True) is None
    with pytest.raises(ConfigError, match=r"^shutdown: must be seconds >= 0 or None, got -2$"):
        check_seconds("shutdown", -2, allow_none=True)
    assert check_seconds("shutdown", 3, allow_none=True) == 3.0
