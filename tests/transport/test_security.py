"""What a node accepts from the network: only registered types, only from the node that
published it; credentials and subject permissions on a real server. Fuzzed with
hypothesis: random bytes and mutated valid envelopes never bring a node down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mabeam import ActorError, ActorSystem, NodeDownError
from mabeam.runtime import TELL, Address, Envelope
from mabeam.transport import NatsTransport
from mabeam.transport._server import NatsServer

from ._actors import Echo, Greeting, codec

WAIT = 10.0


def transport(url: str, **options: Any) -> NatsTransport:
    options.setdefault("heartbeat", 0.05)
    options.setdefault("down_after", 5.0)
    return NatsTransport(servers=[url], reconnect_time_wait=0.05, **options)


def nats_of(system: ActorSystem) -> NatsTransport:
    tr = system._transport
    assert isinstance(tr, NatsTransport)
    return tr


class Pair:
    """Nodes n1 (the target, an Echo as ``probe``) and n2 (whose connection publishes the
    fuzz on n1's subject for n2, then asks the probe: same connection, same subject, so
    when the answer comes the fuzz has been handled)."""

    def __init__(self, url: str) -> None:
        self.n1 = ActorSystem("n1", transport=transport(url), codec=codec())
        self.n2 = ActorSystem("n2", transport=transport(url), codec=codec())

    async def start(self) -> None:
        with anyio.fail_after(WAIT):
            await self.n1.__aenter__()
            await self.n2.__aenter__()
            await self.n1.spawn(Echo, name="probe")
            self.probe = await nats_of(self.n2).wait_for_name("probe")
            self.valid = self.n2.codec.encode(
                Envelope(TELL, self.n2.address, self.probe.address, Greeting("hi"), None, "probe")
            )

    async def stop(self) -> None:
        with anyio.fail_after(WAIT):
            await self.n2.shutdown()
            await self.n1.shutdown()

    async def inject(self, data: bytes) -> None:
        client = nats_of(self.n2)._client
        assert client is not None
        with anyio.fail_after(WAIT):
            await client.publish("mabeam.node.n1.n2", data)
            try:
                await self.probe.ask("alive")
            except NodeDownError:
                raise
            except ActorError:  # the probe itself may have been stopped by a fuzzed Stop
                pass
        assert not self.n1.closed


@pytest.fixture(scope="module")
def pair(nats_server_module: NatsServer) -> Iterator[tuple[Pair, anyio.from_thread.BlockingPortal]]:
    with anyio.from_thread.start_blocking_portal() as portal:
        made = Pair(nats_server_module.url)
        portal.call(made.start)
        try:
            yield made, portal
        finally:
            portal.call(made.stop)


def test_an_envelope_claiming_another_source_is_a_dead_letter(
    pair: tuple[Pair, anyio.from_thread.BlockingPortal],
) -> None:
    made, portal = pair
    forged = made.n2.codec.encode(
        Envelope(TELL, Address("n3", 7), made.probe.address, "forged", None, "probe")
    )
    before = nats_of(made.n1).rejected
    portal.call(made.inject, forged)
    assert nats_of(made.n1).rejected == before + 1
    letter = made.n1.dead_letters.recent[-1]
    assert (letter.message, letter.reason) == ("forged", "forged_source")
    assert "forged" not in portal.call(made.probe.ask, "told")


def test_an_unregistered_type_is_never_instantiated(
    pair: tuple[Pair, anyio.from_thread.BlockingPortal],
) -> None:
    made, portal = pair

    class Sneaky(msgspec.Struct):
        command: str

    sender = codec()
    sender.register(Sneaky, tag="os.system")
    data = sender.encode(
        Envelope(TELL, made.n2.address, made.probe.address, Sneaky("rm"), None, "probe")
    )
    before = nats_of(made.n1).rejected
    portal.call(made.inject, data)
    assert nats_of(made.n1).rejected == before + 1
    assert made.n1.dead_letters.recent[-1].reason == "undecodable"


def _mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply edits (0: flip a byte, 1: delete one, 2: insert one) at positions mod length."""
    out = bytearray(data)
    for op, position, value in edits:
        if not out:
            break
        at = position % len(out)
        if op == 0:
            out[at] ^= value or 1
        elif op == 1:
            del out[at]
        else:
            out.insert(at, value)
    return bytes(out)


_EDITS = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 10_000), st.integers(0, 255)),
    min_size=1,
    max_size=6,
)


def test_fuzzed_input_never_brings_a_node_down(
    pair: tuple[Pair, anyio.from_thread.BlockingPortal],
) -> None:
    """Random bytes and mutated valid envelopes on n1's subject: each handled, the node up."""
    made, portal = pair
    refused: list[int] = []

    @settings(max_examples=150, deadline=None, database=None)
    @given(data=st.one_of(st.binary(max_size=300), _EDITS.map(lambda e: ("mutate", e))))
    def fuzz(data: Any) -> None:
        if isinstance(data, tuple):
            data = _mutate(made.valid, data[1])
        before = made.n1.dead_letters.count
        rejected = nats_of(made.n1).rejected
        portal.call(made.inject, data)
        # Refused input is counted as a dead letter; the node goes on.
        assert made.n1.dead_letters.count - before >= nats_of(made.n1).rejected - rejected
        assert not made.n1.closed
        refused.append(nats_of(made.n1).rejected - rejected)

    fuzz()
    assert len(refused) >= 100
    assert sum(refused) >= len(refused) // 2  # most inputs were refused: it proved something


# ------------------------------------------------------------------ credentials, permissions


async def test_user_and_password_are_passed_to_nats() -> None:
    async with NatsServer(extra_args=["--user", "alice", "--pass", "s3cret"]) as server:
        good = transport(server.url, user="alice", password="s3cret")
        with anyio.fail_after(WAIT):
            async with ActorSystem("n1", transport=good):
                assert good.connected
        bad = transport(server.url, user="alice", password="wrong", connect_timeout=0.3)
        with anyio.fail_after(WAIT), pytest.raises(NodeDownError, match="cannot connect"):
            async with ActorSystem("n1", transport=bad):
                pass


async def test_a_token_is_passed_to_nats() -> None:
    async with NatsServer(extra_args=["--auth", "t0ken-for-tests"]) as server:
        good = transport(server.url, token="t0ken-for-tests")
        with anyio.fail_after(WAIT):
            async with ActorSystem("n1", transport=good):
                assert good.connected
        bad = transport(server.url, token="another", connect_timeout=0.3)
        with anyio.fail_after(WAIT), pytest.raises(NodeDownError, match="cannot connect"):
            async with ActorSystem("n1", transport=bad):
                pass


PERMISSIONS = """
authorization {
  users = [
    {user: n1, password: p1, permissions: {
      publish: ["mabeam.node.*.n1", "mabeam.hb.n1", "_INBOX.>"],
      subscribe: ["mabeam.node.n1.*", "mabeam.hb.*", "_INBOX.>"]}}
    {user: n2, password: p2, permissions: {
      publish: ["mabeam.node.*.n2", "mabeam.hb.n2", "_INBOX.>"],
      subscribe: ["mabeam.node.n2.*", "mabeam.hb.*", "_INBOX.>"]}}
  ]
}
"""


async def test_subject_permissions_stop_a_node_publishing_as_another(tmp_path: Path) -> None:
    config = tmp_path / "cluster.conf"
    config.write_text(PERMISSIONS)
    async with NatsServer(extra_args=["-c", str(config)]) as server:
        n1 = ActorSystem("n1", transport=transport(server.url, user="n1", password="p1"))
        n2 = ActorSystem("n2", transport=transport(server.url, user="n2", password="p2"))
        with anyio.fail_after(WAIT):
            async with n1, n2:
                await n1.spawn(Echo, name="echo")
                echo = await nats_of(n2).wait_for_name("echo")
                assert await echo.ask("allowed") == "allowed"
                client = nats_of(n2)._client
                assert client is not None
                # n2 posing as n3: the server refuses the subject; n1 never sees it.
                forged = n2.codec.encode(
                    Envelope(TELL, Address("n3", 1), echo.address, "as n3", None, "echo")
                )
                await client.publish("mabeam.node.n1.n3", forged)
                assert await echo.ask("after") == "after"
                assert "as n3" not in await echo.ask("told")
                assert nats_of(n1).rejected == 0
                # The server logs the refusal (read by a thread of the fixture: wait for it).
                while not any("Publish Violation" in line for line in server.log):
                    await anyio.lowlevel.checkpoint()
