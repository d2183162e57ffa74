"""``NatsTransport``: actor systems in different processes and hosts, over NATS (issue 16).

An :class:`~mabeam.ActorSystem` with this transport is a **node** of a cluster; its name
is the node name. Subjects (``prefix`` defaults to ``mabeam``):

- ``<prefix>.node.<dst>.<src>``: envelopes from node ``src`` to node ``dst``. Each node
  has one subscription, ``<prefix>.node.<self>.*``; the last token names the sending
  node, which a server's subject permissions can pin (a node may publish only on
  subjects ending in its own name), and every envelope that comes in must say it is
  from that node (source address and reply-to), else it is a dead letter.
- ``<prefix>.hb.<node>``: heartbeats (every ``heartbeat`` seconds), which carry the
  node's registered names; one subscription ``<prefix>.hb.*``.

Messages between actors of the same node never touch NATS: the transport hands them
to the system at once. To another node an envelope is encoded with the system's codec
and published; envelopes published in one turn of the event loop go out as one batch.

Failure detection, the name registry's consistency and the security model are described
in ``docs/distribution.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import itertools
import os
import re
import ssl
import weakref
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import msgspec

from .._errors import (
    ActorDeadError,
    AskTimeoutError,
    ConfigError,
    NodeDownError,
    SystemClosedError,
    UnregisteredTypeError,
)
from .._log import get_logger
from ..runtime._actor import Actor
from ..runtime._envelope import ASK, FAILURE, REPLY, TELL, Address, Envelope
from ..runtime._links import exit_signal, link_cells
from ..runtime._ref import ActorRef, Remote
from ..runtime._signals import Down, describe_reason
from ..runtime._state import RUNNING, STOPPING
from ._control import (
    BEAT,
    BYE,
    CONTROL,
    HELLO,
    Beat,
    Demonitor,
    Link,
    Monitor,
    RemoteDown,
    RemoteExit,
    Spawn,
    Stop,
    Unlink,
)

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

    from ..runtime._context import ActorContext
    from ..runtime._system import ActorSystem

__all__ = ["NatsTransport"]

_log = get_logger("mabeam.transport")

NOCONNECTION: Final = "noconnection"
"""The exit reason of an actor on a node that went down (OTP's): in ``Down`` and ``Exit``."""

NODE_DOWN: Final = "node_down"
"""Dead-letter reason: a message to a node that is down (or was never seen)."""
NATS_DISCONNECTED: Final = "nats_disconnected"
"""Dead-letter reason: a message sent while this node had no connection to the server."""
UNDECODABLE: Final = "undecodable"
"""Dead-letter reason: bytes that came in and are no envelope of registered types."""
FORGED_SOURCE: Final = "forged_source"
"""Dead-letter reason: an envelope claiming a source other than the node that published it."""
BAD_CONTROL: Final = "bad_control"
"""Dead-letter reason: a control message that makes no sense (wrong field types)."""

_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]+")
_BEATS = msgspec.msgpack.Decoder(Beat)
_BEAT_ENCODER = msgspec.msgpack.Encoder()


def _check_token(field: str, value: Any) -> str:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ConfigError(
            field,
            f"{value!r} cannot be a NATS subject token",
            allowed="letters, digits, '-' and '_'",
        )
    return value


def _class_key(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _resolve_class(entry: type | str) -> tuple[str, type[Actor]]:
    """An allow-list entry as ``(key, class)``: a class, or ``"module:QualName"``."""
    if isinstance(entry, str):
        module_name, _, qualname = entry.partition(":")
        if not module_name or not qualname:
            raise ConfigError("allow", f"{entry!r} is not 'module:Class'")
        try:
            value: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                value = getattr(value, part)
        except (ImportError, AttributeError) as exc:
            raise ConfigError("allow", f"{entry!r} cannot be found: {exc}") from exc
        cls = value
    else:
        cls = entry
    if not (isinstance(cls, type) and issubclass(cls, Actor)):
        raise ConfigError("allow", f"{entry!r} is not an Actor class")
    return _class_key(cls), cls


class _Peer:
    """What this node knows of another: its incarnation, when it was last heard, its names."""

    __slots__ = ("incarnation", "names", "seen", "up")

    def __init__(self, incarnation: int, seen: float) -> None:
        self.incarnation = incarnation
        self.seen = seen
        self.names: dict[str, int] = {}
        self.up = True


class _RemoteWatcher:
    """In a local actor's monitors: an actor of another node watching it (or a ``stop()``)."""

    __slots__ = ("monitor", "node", "transport", "watcher")

    _state = RUNNING
    _watching = None

    def __init__(self, transport: NatsTransport, node: str, watcher: int, monitor: int) -> None:
        self.transport = transport
        self.node = node
        self.watcher = watcher
        self.monitor = monitor

    def _enqueue_signal(self, item: tuple[Any, Any, Any]) -> None:
        down = item[0]
        assert isinstance(down, Down)
        self.transport._watcher_fired(self, down)


class NatsTransport:
    """Connects an :class:`~mabeam.ActorSystem` to a NATS cluster: the system becomes a node.

    ``ActorSystem("n1", transport=NatsTransport(servers=["nats://host:4222"]))``. The
    system's name is the node name (letters, digits, ``-``, ``_``). Options:

    - ``allow``: the actor classes other nodes may start here with
      ``spawn(Cls, node=...)``: classes or ``"module:Class"`` strings; nothing else is
      ever instantiated for a peer.
    - ``heartbeat`` / ``down_after``: a node publishes a heartbeat every ``heartbeat``
      seconds; one not heard for ``down_after`` seconds is down.
    - ``spawn_timeout``: how long ``spawn(..., node=...)`` waits for the other node.
    - ``user``/``password``, ``token``, ``nkeys_seed``, ``user_credentials`` (a creds
      file) and ``tls`` (an ``ssl.SSLContext``)/``tls_hostname``: passed to nats-py's
      ``connect``, as are the ``reconnect_time_wait``, ``max_reconnect_attempts`` and
      ``connect_timeout``; ``options`` adds any other ``connect`` keyword.
    - ``prefix``: the first token of every subject (clusters sharing a server differ).
    """

    def __init__(
        self,
        servers: str | Iterable[str] = ("nats://127.0.0.1:4222",),
        *,
        allow: Iterable[type | str] = (),
        heartbeat: float = 1.0,
        down_after: float = 5.0,
        spawn_timeout: float = 10.0,
        prefix: str = "mabeam",
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        nkeys_seed: str | None = None,
        user_credentials: str | None = None,
        tls: ssl.SSLContext | None = None,
        tls_hostname: str | None = None,
        connect_timeout: float = 5.0,
        reconnect_time_wait: float = 0.5,
        max_reconnect_attempts: int = -1,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.servers = [servers] if isinstance(servers, str) else list(servers)
        if not self.servers or not all(isinstance(s, str) and s for s in self.servers):
            raise ConfigError("servers", f"must be server URLs, got {servers!r}")
        for field, value in (
            ("heartbeat", heartbeat),
            ("down_after", down_after),
            ("spawn_timeout", spawn_timeout),
            ("connect_timeout", connect_timeout),
            ("reconnect_time_wait", reconnect_time_wait),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ConfigError(field, f"must be a positive number of seconds, got {value!r}")
        if down_after <= heartbeat:
            raise ConfigError(
                "down_after", f"must be longer than heartbeat ({heartbeat:g}), got {down_after!r}"
            )
        self.prefix = _check_token("prefix", prefix)
        self.heartbeat = float(heartbeat)
        self.down_after = float(down_after)
        self.spawn_timeout = float(spawn_timeout)
        self._allowed = dict(_resolve_class(entry) for entry in allow)
        self._connect: dict[str, Any] = {
            "connect_timeout": connect_timeout,
            "reconnect_time_wait": reconnect_time_wait,
            "max_reconnect_attempts": max_reconnect_attempts,
        }
        credentials: tuple[tuple[str, Any], ...] = (
            ("user", user),
            ("password", password),
            ("token", token),
            ("nkeys_seed", nkeys_seed),
            ("user_credentials", user_credentials),
            ("tls", tls),
            ("tls_hostname", tls_hostname),
        )
        for key, value in credentials:
            if value is not None:
                self._connect[key] = value
        self._connect.update(options or {})
        self.system: ActorSystem | None = None
        self._name = ""
        self._client: Client | None = None
        self._incarnation = int.from_bytes(os.urandom(8), "big") >> 1
        self._peers: dict[str, _Peer] = {}
        self._proxies: weakref.WeakValueDictionary[Address, Remote] = weakref.WeakValueDictionary()
        self._asks: dict[str, dict[int, str]] = {}  # node -> correlation -> actor label
        self._watchers: dict[tuple[str, int], tuple[int, ActorContext]] = {}
        self._exit_watch_ids = itertools.count(1)
        self._outbox: list[tuple[str, bytes, Envelope]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tick: asyncio.TimerHandle | None = None
        self._announce: asyncio.Handle | None = None
        self._changed = asyncio.Event()
        self._closing = False
        self._said_hello = False
        """Whether this connection's HELLO went out: no BEAT may precede it (see
        :meth:`_publish_beat`)."""
        self.rejected = 0
        """Messages that came in and were refused (undecodable, forged, bad control)."""

    # ------------------------------------------------------------------ lifecycle

    def attach(self, system: ActorSystem) -> None:
        """Called by the system when it starts: take its name as the node name."""
        self._name = _check_token("name", system.name)
        self.system = system
        codec = system.codec
        for cls in CONTROL:
            codec.register(cls, tag=f"transport.{cls.__name__}")

    async def start(self) -> None:
        """Connect, subscribe to this node's subjects and say hello to the cluster."""
        from nats.aio.client import Client

        from ._nats import confirm_subscriptions

        system = self._require_system()
        self._changed = asyncio.Event()
        client = Client()
        timeout = self._connect["connect_timeout"]
        try:
            # nats-py retries a first connection for ever when reconnects are unlimited.
            async with asyncio.timeout(timeout * 2):
                await client.connect(
                    servers=self.servers,
                    name=f"mabeam node {self._name}",
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    **self._connect,
                )
        except (Exception, TimeoutError) as exc:
            with contextlib.suppress(Exception):
                await client.close()
            raise NodeDownError(
                f"node {self._name}",
                self._name,
                f"cannot connect to NATS at {', '.join(self.servers)}: {exc!r}",
            ) from exc
        self._client = client
        await client.subscribe(f"{self.prefix}.node.{self._name}.*", cb=self._on_envelope)
        await client.subscribe(f"{self.prefix}.hb.*", cb=self._on_beat)
        await confirm_subscriptions(client, self._connect["connect_timeout"])
        self._publish_beat(HELLO)
        self._tick = system._loop.call_later(self.heartbeat, self._on_tick)
        _log.debug("node_started", node=self._name, servers=self.servers)

    async def close(self) -> None:
        """Say goodbye, send what is queued, and disconnect (the system calls it last)."""
        if self._closing:
            return
        self._closing = True
        for handle in (self._tick, self._announce):
            if handle is not None:
                handle.cancel()
        client = self._client
        if client is None:
            return
        if client.is_connected:
            self._publish_beat(BYE)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._connect["connect_timeout"]):
                if self._flusher is not None:
                    await self._flusher
                if client.is_connected:
                    await client.flush()
        self._fail_asks(None, "is unreachable: this node closed its transport")
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._connect["connect_timeout"]):
                await client.close()
        _log.debug("node_stopped", node=self._name)

    # ------------------------------------------------------------------ public

    @property
    def node(self) -> str:
        """This node's name (the system's)."""
        return self._name

    @property
    def nodes(self) -> list[str]:
        """The other nodes that are up, as far as this one knows, sorted."""
        return sorted(n for n, peer in self._peers.items() if peer.up)

    @property
    def connected(self) -> bool:
        """Whether the connection to the NATS server is up."""
        return self._client is not None and self._client.is_connected

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until every envelope sent so far has been written to the NATS server.

        Sending never waits (envelopes of one loop turn go out as a batch); a producer of
        many tells can call this every so many messages, as with nats-py's ``flush``.
        """
        client = self._client
        if client is None:
            return
        async with asyncio.timeout(timeout):
            while self._flusher is not None:
                await asyncio.shield(self._flusher)
            if client.is_connected:
                await client.flush(timeout=max(1, int(timeout)))

    async def wait_for_nodes(self, *nodes: str, timeout: float = 10.0) -> None:
        """Return once every node named is up; raise NodeDownError after ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    missing = [n for n in nodes if not self._is_up(n)]
                    if not missing:
                        return
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            missing = [n for n in nodes if not self._is_up(n)]
            raise NodeDownError(
                f"node {missing[0]}", missing[0], f"was not heard from within {timeout:g} s"
            ) from None

    async def wait_for_name(self, name: str, *, timeout: float = 10.0) -> ActorRef:
        """The ref registered as ``name`` anywhere in the cluster, once it is known."""
        system = self._require_system()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    ref = system.whereis(name)
                    if ref is not None:
                        return ref
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise ActorDeadError(name, f"find it within {timeout:g} s") from None

    async def wait_until_connected(self, connected: bool = True, *, timeout: float = 10.0) -> None:
        """Return once the connection to the NATS server is up (or, ``False``, lost)."""
        async with asyncio.timeout(timeout):
            while self.connected != connected:
                self._changed.clear()
                await self._changed.wait()

    async def wait_until_down(self, node: str, *, timeout: float = 10.0) -> None:
        """Return once ``node`` is known to be down (or never was up)."""
        async with asyncio.timeout(timeout):
            while self._is_up(node):
                self._changed.clear()
                await self._changed.wait()

    # ------------------------------------------------------------------ the Transport side

    def send(self, envelope: Envelope) -> None:
        """Local destination: hand it to the system now; another node: publish it there."""
        system = self.system
        assert system is not None
        dst = envelope.dst
        node = dst.node
        if node == self._name:
            name = envelope.dst_name
            if dst.id or name is None or envelope.kind >= REPLY or name in system._names:
                system.deliver(envelope)
                return
            found = self._lookup_node(name)
            if found is None:
                system.deliver(envelope)  # no such name anywhere: a dead letter here
                return
            node = found
            envelope = msgspec.structs.replace(envelope, dst=Address(found, 0))
        self._publish(node, envelope)

    def remote(self, address: Address, name: str | None) -> Remote:
        """The one cell for an actor of another node (made when first needed)."""
        cell = self._proxies.get(address)
        if cell is None:
            system = self._require_system()
            cell = self._proxies[address] = Remote(system, address, name)
        elif name is not None and cell._name is None:
            cell._name = name
        return cell

    def lookup(self, name: str) -> Address | None:
        """Where ``name`` is registered on another node that is up (by the latest heartbeat)."""
        node = self._lookup_node(name)
        return None if node is None else Address(node, self._peers[node].names[name])

    def names_changed(self) -> None:
        """A name was registered or removed here: announce it with a heartbeat soon."""
        if self._announce is None and self._client is not None and not self._closing:
            system = self._require_system()
            self._announce = system._loop.call_soon(self._announce_names)

    async def spawn_remote(
        self,
        node: str,
        actor_class: type | str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None,
    ) -> ActorRef:
        """Ask ``node`` to start an actor of an allowed class; its ref (see ``system.spawn``)."""
        system = self._require_system()
        key = actor_class if isinstance(actor_class, str) else _class_key(actor_class)
        loop = system._loop
        reply: asyncio.Future[ActorRef] = loop.create_future()
        correlation = next(system._correlations)
        system._pending[correlation] = reply
        me = system.address
        self._publish(
            node,
            Envelope(
                ASK,
                me,
                Address(node, 0),
                Spawn(key, tuple(args), kwargs, name),
                None,
                None,
                correlation,
                me,
            ),
        )
        try:
            async with asyncio.timeout(self.spawn_timeout):
                return await reply
        except TimeoutError:
            if reply.done():
                raise
            raise AskTimeoutError(f"node {node}", "Spawn", self.spawn_timeout) from None
        finally:
            system._pending.pop(correlation, None)

    # ------------------------------------------------------------------ links and monitors

    def remote_link(self, cell: ActorContext, other: Remote) -> None:
        self._control(other._node, Link(cell._id, other._id))

    def remote_unlink(self, cell: ActorContext, other: Remote) -> None:
        self._control(other._node, Unlink(cell._id, other._id))

    def remote_monitor(self, cell: ActorContext, target: Remote, monitor_id: int) -> None:
        self._control(target._node, Monitor(cell._id, target._id, monitor_id))

    def remote_demonitor(self, target: Remote, monitor_id: int) -> None:
        self._control(target._node, Demonitor(monitor_id))

    def remote_exit(self, origin: ActorContext, cell: Remote, reason: Any) -> None:
        self._control(cell._node, RemoteExit(origin._id, origin._name, cell._id, reason))

    def remote_stop(self, cell: Remote, reason: Any) -> None:
        self._control(cell._node, Stop(cell._id, reason))

    def remote_watch_exit(self, cell: Remote) -> None:
        if not self._is_up(cell._node):
            cell._mark_dead()
            return
        self._control(cell._node, Monitor(0, cell._id, -next(self._exit_watch_ids)))

    def _watcher_fired(self, watcher: _RemoteWatcher, down: Down) -> None:
        """A local actor another node monitors exited: send the ``Down`` there."""
        self._watchers.pop((watcher.node, watcher.monitor), None)
        target = down.actor
        self._control(
            watcher.node,
            RemoteDown(watcher.watcher, target.id, target.name, watcher.monitor, down.reason),
        )

    # ------------------------------------------------------------------ sending

    def _control(self, node: str, message: Any) -> None:
        system = self._require_system()
        self._publish(node, Envelope(TELL, system.address, Address(node, 0), message))

    def _publish(self, node: str, envelope: Envelope) -> None:
        peer = self._peers.get(node)
        client = self._client
        if client is None or not client.is_connected:
            self._unreachable(
                envelope, node, NATS_DISCONNECTED, "cannot be reached: no connection to NATS"
            )
            return
        if peer is None or not peer.up:
            self._unreachable(envelope, node, NODE_DOWN, "is down")
            return
        system = self.system
        assert system is not None
        try:
            data = system.codec.encode(envelope)
        except UnregisteredTypeError as exc:
            data = self._encode_anyway(envelope, exc)
        if envelope.kind == ASK:
            label = envelope.dst_name or f"{node}#{envelope.dst.id}"
            self._asks.setdefault(node, {})[envelope.correlation] = label
        self._outbox.append((f"{self.prefix}.node.{node}.{self._name}", data, envelope))
        if self._flusher is None:
            self._flusher = system._loop.create_task(self._flush())

    def _encode_anyway(self, envelope: Envelope, error: UnregisteredTypeError) -> bytes:
        """An envelope the codec refused: an answer goes as the error, a signal's reason as
        text; the sender's own tell or ask raises (as in a strict run)."""
        codec = self._require_system().codec
        payload = envelope.payload
        if envelope.is_reply:
            replaced = msgspec.structs.replace(envelope, kind=FAILURE, payload=error)
        elif type(payload) in (RemoteDown, RemoteExit, Stop):
            text = describe_reason(payload.reason)
            replaced = msgspec.structs.replace(
                envelope, payload=msgspec.structs.replace(payload, reason=text)
            )
        else:
            raise error
        return codec.encode(replaced)

    async def _flush(self) -> None:
        """Publish everything queued in this turn of the loop (one batch for nats-py)."""
        client = self._client
        assert client is not None
        try:
            while self._outbox:
                batch, self._outbox = self._outbox, []
                for index, (subject, data, _) in enumerate(batch):
                    try:
                        await client.publish(subject, data)
                    except Exception as exc:
                        for _, _, lost in batch[index:]:
                            self._unreachable(
                                lost,
                                subject.rsplit(".", 2)[1],
                                NATS_DISCONNECTED,
                                f"cannot be reached: publishing failed ({exc!r})",
                            )
                        break
        finally:
            self._flusher = None

    def _unreachable(self, envelope: Envelope, node: str, reason: str, why: str) -> None:
        """An envelope that cannot go: a dead letter, and its ask fails at once."""
        system = self.system
        assert system is not None
        if envelope.dst.id == 0 and envelope.dst_name is None:
            if envelope.kind == ASK:  # a remote spawn
                system._fail_ask(envelope, NodeDownError(f"node {node}", node, why))
            else:
                self._control_lost(envelope)
            return
        label = envelope.dst_name or f"{node}#{envelope.dst.id}"
        sender = system._sender_of(envelope.src, envelope.src_name)
        system._dead_letter(label, envelope.payload, sender, reason)
        if envelope.kind == ASK:
            system._fail_ask(envelope, NodeDownError(label, node, why))

    def _control_lost(self, envelope: Envelope) -> None:
        """A control message that could not go: as OTP, monitoring or linking an actor of a
        node that is down is a ``Down`` / exit ``noconnection`` at once; ``stop()`` waiting
        on it returns."""
        system = self._require_system()
        payload = envelope.payload
        node = envelope.dst.node
        if type(payload) is Monitor:
            proxy = self._proxies.get(Address(node, payload.target))
            if proxy is None:
                return
            if payload.watcher == 0:
                stopped, proxy._stopped = proxy._stopped, None
                if stopped is not None and not stopped.done():
                    stopped.set_result(None)
                return
            if proxy._monitors is not None:
                proxy._monitors.pop(payload.monitor, None)
            watcher = system._cells.get(payload.watcher)
            if watcher is not None:
                if watcher._watching is not None:
                    watcher._watching.pop(payload.monitor, None)
                down = Down(proxy._ref, NOCONNECTION, payload.monitor)
                watcher._enqueue_signal((down, None, None))
        elif type(payload) is Link:
            proxy = self._proxies.get(Address(node, payload.target))
            cell = system._cells.get(payload.origin)
            if proxy is None or cell is None:
                return
            if proxy._links is not None:
                proxy._links.pop(cell, None)
            if cell._links is not None:
                cell._links.pop(proxy, None)  # type: ignore[call-overload]
            exit_signal(cell, proxy, NOCONNECTION)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ receiving

    async def _on_envelope(self, msg: Msg) -> None:
        system = self.system
        if system is None or system.closed:
            return
        source = msg.subject.rsplit(".", 1)[-1]
        try:
            envelope = system.codec.decode(msg.data, system)
        except Exception as exc:
            self._reject(source, msg.data, UNDECODABLE, exc)
            return
        reply_to = envelope.reply_to
        if (
            envelope.src.node != source
            or (reply_to is not None and reply_to.node != source)
            or envelope.dst.node != self._name
        ):
            self._reject(source, envelope.payload, FORGED_SOURCE, None)
            return
        try:
            if envelope.kind >= REPLY:
                asks = self._asks.get(source)
                if asks is not None:
                    asks.pop(envelope.correlation, None)
            elif envelope.dst.id == 0 and envelope.dst_name is None:
                self._on_control(source, envelope)
                return
            system.deliver(envelope)
        except Exception as exc:
            self._reject(source, envelope.payload, BAD_CONTROL, exc)

    def _reject(self, source: str, message: Any, reason: str, error: Exception | None) -> None:
        """Refused input: a dead letter (the node goes on), counted in :attr:`rejected`."""
        self.rejected += 1
        system = self.system
        assert system is not None
        if isinstance(message, bytes | bytearray | memoryview):
            message = bytes(message[:256])
        system._dead_letter(f"node {self._name} (from {source})", message, None, reason)
        _log.warning(
            "envelope_rejected",
            node=self._name,
            source=source,
            reason=reason,
            error=None if error is None else repr(error),
        )

    def _on_control(self, source: str, envelope: Envelope) -> None:
        system = self.system
        assert system is not None
        message = envelope.payload
        kind = type(message)
        cells = system._cells
        if kind is Monitor:
            target = cells.get(message.target)
            if target is None or target._state >= STOPPING:
                self._control(
                    source,
                    RemoteDown(message.watcher, message.target, None, message.monitor, "noproc"),
                )
                return
            key = next(system._monitor_ids)
            watcher = _RemoteWatcher(self, source, message.watcher, message.monitor)
            if target._monitors is None:
                target._monitors = {}
            target._monitors[key] = watcher  # type: ignore[assignment]
            self._watchers[(source, message.monitor)] = (key, target)
        elif kind is Demonitor:
            found = self._watchers.pop((source, message.monitor), None)
            if found is not None and found[1]._monitors is not None:
                found[1]._monitors.pop(found[0], None)
        elif kind is RemoteDown:
            proxy = self.remote(Address(source, message.target), message.target_name)
            if proxy._monitors is not None:
                proxy._monitors.pop(message.monitor, None)
            proxy._mark_dead()
            watcher_cell = cells.get(message.watcher) if message.watcher > 0 else None
            if watcher_cell is not None:
                if watcher_cell._watching is not None:
                    watcher_cell._watching.pop(message.monitor, None)
                if watcher_cell._state <= RUNNING:
                    watcher_cell._enqueue_signal(
                        (Down(proxy._ref, message.reason, message.monitor), None, None)
                    )
        elif kind is Link:
            proxy = self.remote(Address(source, message.origin), None)
            target = cells.get(message.target)
            if target is None or target._state >= STOPPING:
                self._control(source, RemoteExit(message.target, None, message.origin, "noproc"))
                return
            link_cells(target, proxy)  # type: ignore[arg-type]
        elif kind is Unlink:
            proxy = self.remote(Address(source, message.origin), None)
            target = cells.get(message.target)
            if target is not None and target._links is not None:
                target._links.pop(proxy, None)  # type: ignore[call-overload]
            if proxy._links is not None and target is not None:
                proxy._links.pop(target, None)
        elif kind is RemoteExit:
            proxy = self.remote(Address(source, message.origin), message.origin_name)
            proxy._mark_dead()
            target = cells.get(message.target)
            if proxy._links is not None and target is not None:
                proxy._links.pop(target, None)
            if target is not None:
                if target._links is not None:
                    target._links.pop(proxy, None)  # type: ignore[call-overload]
                exit_signal(target, proxy, message.reason)  # type: ignore[arg-type]
        elif kind is Stop:
            target = cells.get(message.target)
            if target is not None and target._state <= RUNNING:
                target._push_stop(message.reason, front=False)
        elif kind is Spawn and envelope.kind == ASK:
            task = system._loop.create_task(self._spawn_here(envelope, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            raise TypeError(f"{kind.__name__} is no control message")

    async def _spawn_here(self, envelope: Envelope, request: Spawn) -> None:
        """A peer's ``spawn(..., node=<this node>)``: only allowed classes, then answer."""
        system = self._require_system()
        result: Any
        kind = REPLY
        try:
            cls = self._allowed.get(request.actor_class)
            if cls is None:
                raise ConfigError(
                    "actor_class",
                    f"{request.actor_class!r} may not be started on node {self._name!r}",
                    allowed=sorted(self._allowed) or "none (NatsTransport(allow=[...]))",
                )
            args, kwargs = request.args, request.kwargs
            if not isinstance(args, tuple | list) or not (
                isinstance(kwargs, dict) and all(isinstance(k, str) for k in kwargs)
            ):
                raise ConfigError("args", "must be a sequence, and kwargs a dict of str keys")
            result = await system.spawn(cls, *args, name=request.name, **kwargs)
        except Exception as exc:
            kind, result = FAILURE, exc
        assert envelope.reply_to is not None
        self.send(
            Envelope(
                kind, system.address, envelope.reply_to, result, None, None, envelope.correlation
            )
        )

    # ------------------------------------------------------------------ heartbeats

    def _publish_beat(self, kind: int) -> None:
        client = self._client
        system = self.system
        if client is None or system is None or not client.is_connected:
            return
        # A peer that hears a BEAT first takes this node as up and may send it asks; a
        # HELLO heard after that fails them ("reconnected"). So until the HELLO of this
        # connection is out, no BEAT goes (not even the answer to a peer's HELLO that
        # arrived while this node was starting): the peer learns of this node from the
        # HELLO, which never overtakes what it then sends.
        if kind == HELLO:
            self._said_hello = True
        elif kind == BEAT and not self._said_hello:
            return
        names = {name: cell._id for name, cell in system._names.items()}
        data = _BEAT_ENCODER.encode(Beat(kind, self._name, self._incarnation, names))
        self._spawn_task(client.publish(f"{self.prefix}.hb.{self._name}", data))

    def _spawn_task(self, coroutine: Any) -> None:
        task = self._require_system()._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.debug("publish_failed", node=self._name, error=repr(task.exception()))

    def _announce_names(self) -> None:
        self._announce = None
        self._publish_beat(BEAT)

    def _on_tick(self) -> None:
        system = self.system
        if system is None or self._closing:
            return
        self._publish_beat(BEAT)
        now = system._loop.time()
        for node, peer in list(self._peers.items()):
            if peer.up and now - peer.seen > self.down_after:
                self._node_down(node, f"sent no heartbeat for {self.down_after:g} s")
        # Asks that gave up (timed out) leave the system's table: forget them here too.
        pending = system._pending
        for asks in self._asks.values():
            for correlation in [c for c in asks if c not in pending]:
                del asks[correlation]
        self._tick = system._loop.call_later(self.heartbeat, self._on_tick)

    async def _on_beat(self, msg: Msg) -> None:
        system = self.system
        if system is None or self._closing:
            return
        source = msg.subject.rsplit(".", 1)[-1]
        if source == self._name:
            return  # our own, echoed
        try:
            beat = _BEATS.decode(msg.data)
        except msgspec.DecodeError as exc:
            self._reject(source, msg.data, UNDECODABLE, exc)
            return
        if beat.node != source or not all(type(v) is int for v in beat.names.values()):
            self._reject(source, beat, FORGED_SOURCE, None)
            return
        peer = self._peers.get(source)
        if beat.kind == BYE:
            if peer is not None and peer.up and peer.incarnation == beat.incarnation:
                self._node_down(source, "left the cluster")
            return
        now = system._loop.time()
        if peer is not None and peer.incarnation != beat.incarnation:
            if peer.up:
                self._node_down(source, "restarted")
            self._forget_incarnation(source)
            peer = None
        if peer is None:
            peer = self._peers[source] = _Peer(beat.incarnation, now)
            _log.info("node_up", node=self._name, peer=source)
        elif not peer.up:
            peer.up = True
            _log.info("node_up", node=self._name, peer=source)
        peer.seen = now
        peer.names = beat.names
        self._changed.set()
        if beat.kind == HELLO:
            # It (re)connected: what was sent to it while it was away may be lost, so no
            # ask waits for an answer that may never come; and it learns of us at once.
            self._fail_asks(source, "reconnected: the ask or its answer may have been lost")
            self._publish_beat(BEAT)

    def _node_down(self, node: str, why: str) -> None:
        """``node`` is down: its monitors fire, its links exit, asks to it fail, names go."""
        peer = self._peers.get(node)
        if peer is not None:
            peer.up = False
            peer.names = {}
        _log.warning("node_down", node=self._name, peer=node, why=why)
        self._fail_asks(node, why)
        for address, proxy in list(self._proxies.items()):
            if address.node != node:
                continue
            monitors, proxy._monitors = proxy._monitors, None
            for monitor_id, watcher in (monitors or {}).items():
                if watcher._watching is not None:
                    watcher._watching.pop(monitor_id, None)
                if watcher._state <= RUNNING:
                    watcher._enqueue_signal(
                        (Down(proxy._ref, NOCONNECTION, monitor_id), None, None)
                    )
            links, proxy._links = proxy._links, None
            for cell in links or ():
                if cell._links is not None:
                    cell._links.pop(proxy, None)  # type: ignore[call-overload]
                exit_signal(cell, proxy, NOCONNECTION)  # type: ignore[arg-type]
            stopped, proxy._stopped = proxy._stopped, None
            if stopped is not None and not stopped.done():
                stopped.set_result(None)
        for key in [k for k in self._watchers if k[0] == node]:
            monitor_key, cell = self._watchers.pop(key)
            if cell._monitors is not None:
                cell._monitors.pop(monitor_key, None)
        self._changed.set()

    def _forget_incarnation(self, node: str) -> None:
        """``node`` came back as a new process: refs to its old actors are dead for good."""
        for address, proxy in list(self._proxies.items()):
            if address.node == node:
                proxy._mark_dead()
                del self._proxies[address]

    def _fail_asks(self, node: str | None, why: str) -> None:
        """Fail at once the asks waiting on ``node`` (None: every node)."""
        system = self.system
        if system is None:
            return
        nodes = list(self._asks) if node is None else [node]
        for each in nodes:
            for correlation, label in self._asks.pop(each, {}).items():
                reply = system._pending.pop(correlation, None)
                if reply is not None and not reply.done():
                    reply.set_exception(NodeDownError(label, each, why))

    # ------------------------------------------------------------------ connection events

    async def _on_error(self, error: Exception) -> None:
        _log.debug("nats_error", node=self._name, error=repr(error))

    async def _on_disconnected(self) -> None:
        if self._closing:
            return
        _log.warning("nats_disconnected", node=self._name)
        self._said_hello = False  # the reconnection's HELLO comes first again
        # Answers to asks in flight may be lost with the connection: fail them now.
        self._fail_asks(None, "cannot be reached: this node lost its connection to NATS")
        self._changed.set()

    async def _on_reconnected(self) -> None:
        _log.info("nats_reconnected", node=self._name)
        self._publish_beat(HELLO)
        self._changed.set()

    # ------------------------------------------------------------------ helpers

    def _is_up(self, node: str) -> bool:
        peer = self._peers.get(node)
        return peer is not None and peer.up

    def _lookup_node(self, name: str) -> str | None:
        for node in sorted(self._peers):
            peer = self._peers[node]
            if peer.up and name in peer.names:
                return node
        return None

    def _require_system(self) -> ActorSystem:
        system = self.system
        if system is None:
            raise SystemClosedError("the transport is not attached to a running ActorSystem")
        return system
