"""Checked by mypy (tests/typing/test_typing.py), never run: what spawn and ask infer, and
the mistakes mypy --strict must reject (each `# type: ignore[code]` must be needed)."""

from __future__ import annotations

from typing import Any, assert_type

from mabeam import Actor, ActorError, ActorRef, ActorSystem, ChildSpec, Supervisor
from mabeam.protocols.auction import run_auction
from mabeam.protocols.conflict import resolve_conflicts


class Counter(Actor):
    def __init__(self, start: int, *, step: int = 1) -> None:
        self.value = start
        self.step = step

    async def receive(self, message: Any) -> int:
        self.value += self.step
        return self.value


class Greeter(Actor):
    async def receive(self, message: Any) -> str:
        return f"hello {message}"


class Untyped(Actor):
    async def receive(self, message: Any) -> Any:
        return message


async def inferred(system: ActorSystem) -> None:
    counter = await system.spawn(Counter, 0, step=2)
    assert_type(counter, ActorRef[int])
    assert_type(await counter.ask("tick"), int)
    greeter = await system.spawn(Greeter)
    assert_type(await greeter.ask("you"), str)
    named = await system.spawn(Counter, 5, name="counter")
    assert_type(named, ActorRef[int])
    assert_type(await system.spawn(Untyped), ActorRef[Any])
    plain: ActorRef = counter  # a bare ActorRef is ActorRef[Any]
    assert_type(plain, ActorRef[Any])


async def asked_at_once(system: ActorSystem) -> None:
    counters = [await system.spawn(Counter, i) for i in range(3)]
    answers = await system.ask_all(counters, "tick")
    assert_type(answers, list[int | ActorError])
    first = answers[0]
    first + 1  # type: ignore[operator]  # an answer may be the error its ask got
    if not isinstance(first, ActorError):
        assert_type(first, int)
    # Names carry no reply type.
    assert_type(await system.ask_all(["counter", counters[0]], "tick"), list[Any])


class Fanout(Actor):
    async def receive(self, message: Any) -> None:
        greeters = [await self.context.spawn(Greeter) for _ in range(2)]
        assert_type(await self.context.ask_all(greeters, "you"), list[str | ActorError])


class Parent(Actor):
    async def receive(self, message: Any) -> None:
        child = await self.context.spawn(Counter, 1)
        assert_type(child, ActorRef[int])
        linked = await self.context.spawn_link(Greeter)
        assert_type(linked, ActorRef[str])
        await self.context.spawn(Counter, "one")  # type: ignore[call-overload]
        await self.context.spawn_link(Counter)  # type: ignore[call-overload]


async def mistakes(system: ActorSystem) -> None:
    # A wrong constructor argument: the actor's __init__ takes an int.
    await system.spawn(Counter, "zero")  # type: ignore[call-overload]
    await system.spawn(Counter, 0, stride=2)  # type: ignore[call-arg]
    # .upper() on the int an ask returns.
    reply = await (await system.spawn(Counter, 0)).ask("tick")
    reply.upper()  # type: ignore[attr-defined]
    # Option strings are Literal types.
    await system.spawn(Supervisor, [], strategy="one_for_nine")  # type: ignore[arg-type]
    await system.spawn(Supervisor, [ChildSpec(id="c", actor=Counter, args=(0,))])
    await run_auction(system, "x", ["a"], auction_type="sealed")  # type: ignore[arg-type]
    await run_auction(system, "x", ["a"], payment_rule="third_price")  # type: ignore[arg-type]
    await resolve_conflicts(system, [], strategy="coin_flip")  # type: ignore[arg-type]
