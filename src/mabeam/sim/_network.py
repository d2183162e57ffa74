"""The simulated network: one place every message between agents passes.

:class:`SimNetwork` is a runtime :class:`~mabeam.runtime.Transport`. Give it to an
``ActorSystem(transport=...)`` and every ``tell``, ``ask`` and ask reply between two
*nodes* (actors registered under a name the network was told about with
:meth:`SimNetwork.add_node`) goes through a seeded model:

- latency: fixed, or uniform in ``[lo, hi]`` ms, drawn per message;
- order: per link (sender, receiver) FIFO, as Erlang guarantees, unless ``reorder``
  lets a message overtake an earlier one within the latency range;
- loss (``drop_rate``) and duplication (``duplicate_rate``);
- partitions into groups and healing; ``exempt`` nodes (a coordinator) reach everyone,
  unless the network was made with ``partition_exempt=True`` (clients cut off too);
- per-link faults, each one direction (``src -> dst``), opt-in: :meth:`SimNetwork.cut`
  (a one-way cut; :meth:`SimNetwork.cut_oneway` cuts every link from one group to
  another), and :meth:`SimNetwork.set_link` (that link's own loss rate and latency range
  instead of the global ones). Cuts, like partitions, act at send time *and* at delivery
  (a message in flight when the cut starts is lost), are traced as network faults
  (``cut``, ``uncut``, ``link`` on the sending node, detail ``-> receiver``; a one-way
  partition on ``network``) and dropped messages carry the note ``cut``; ``heal``
  also ends every cut. A network without per-link faults draws exactly the random
  numbers it always did, in the same order;
- an optional ``tick_ms``: delivery times rounded up to whole ticks, so that messages
  share delivery times; each distinct delivery time costs the event loop a turn, so a
  tick makes large runs faster at the price of time resolution (0, the default, is exact);
- byzantine interceptors that rewrite, drop or forge the payload of one node's messages.
  The sender itself cannot be forged: the runtime stamps it, the interceptor only sees
  and returns the payload.

A message addressed by name (``ActorContext.tell(name, message)``, Erlang's
``Name ! Message``) to a node travels whether or not an actor runs there, as a real
network delivers to a host whose process is gone: it is counted and traced as sent,
suffers the same faults, and the name is resolved only when it arrives. A running
actor then gets it (an actor restarted meanwhile: the new incarnation); none is a drop
with note ``no_actor`` (``not_running`` for one that is stopping) and a runtime dead
letter. A message sent to a ref stays addressed to that incarnation: arriving after it
died it is dropped (``not_running``) even if a new one has taken the name.

Messages with an endpoint that is not a node (application code, supervisors) are
delivered at once, untouched. Pending deliveries sit in one heap ordered by (delivery
time, send order) behind a single event-loop timer, so delivery order never depends
on timer internals, and the clock cannot pass a message that is due: the timer fires
at exactly its delivery time. All randomness comes from the one ``random.Random``.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import math
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import msgspec

from .._errors import ConfigError
from ..runtime import FAILURE, ActorSystem, EagerWakes, Envelope
from ._clock import VirtualEventLoop
from ._trace import Trace


class _Drop:
    __slots__ = ()

    def __repr__(self) -> str:
        return "DROP"


DROP: Final = _Drop()
"""Return this from an interceptor to drop the message."""

Interceptor = Callable[[Any, str], Any]
"""``(payload, receiver name) -> new payload | DROP``: a byzantine node's tampering."""

_KINDS: Final = ("message", "message", "reply", "reply")
"""How the trace names each envelope kind (tell, ask, reply, failure)."""
_EPSILON: Final = 1e-9


def _check_rate(field: str, value: float) -> float:
    if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
        raise ConfigError(field, f"must be a probability in [0, 1], got {value!r}")
    return float(value)


class _Link:
    """A directed link's own settings (None: the network's)."""

    __slots__ = ("drop_rate", "latency")

    def __init__(self) -> None:
        self.drop_rate: float | None = None
        self.latency: tuple[float, float] | None = None


def _check_latency(latency_ms: float | Sequence[float]) -> tuple[float, float]:
    if isinstance(latency_ms, int | float):
        lo = hi = float(latency_ms)
    else:
        values = list(latency_ms)
        if len(values) != 2:
            raise ConfigError("latency_ms", f"must be a number or [lo, hi], got {latency_ms!r}")
        lo, hi = float(values[0]), float(values[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo <= hi):
        raise ConfigError("latency_ms", f"needs 0 <= lo <= hi, finite, got {latency_ms!r}")
    return lo, hi


class SimNetwork:
    """A seeded network model between named actors (see the module docstring)."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        rng: random.Random | None = None,
        latency_ms: float | Sequence[float] = 1.0,
        drop_rate: float = 0.0,
        duplicate_rate: float = 0.0,
        reorder: bool = False,
        tick_ms: float = 0.0,
        trace: bool = True,
        partition_exempt: bool = False,
    ) -> None:
        if rng is not None and seed is not None:
            raise ConfigError("seed", "give a seed or an rng, not both")
        self.rng = rng if rng is not None else random.Random(seed)
        self._lo, self._hi = _check_latency(latency_ms)
        self.drop_rate = _check_rate("drop_rate", drop_rate)
        self.duplicate_rate = _check_rate("duplicate_rate", duplicate_rate)
        self.reorder = bool(reorder)
        if not (isinstance(tick_ms, int | float) and math.isfinite(tick_ms) and tick_ms >= 0):
            raise ConfigError("tick_ms", f"must be a finite number >= 0, got {tick_ms!r}")
        self._tick = tick_ms / 1000.0
        self.trace: Trace | None = Trace() if trace else None
        self.sent = 0
        self.delivered = 0
        self.dropped = 0
        self.duplicated = 0
        self._nodes: dict[str, None] = {}
        self._exempt: dict[str, None] = {}
        self._groups: dict[str, int] | None = None
        self._interceptors: dict[str, Interceptor] = {}
        self.partition_exempt = bool(partition_exempt)
        """Whether partitions cut off ``exempt`` nodes (clients, coordinators) too."""
        self._cuts: set[tuple[str, str]] = set()
        self._links: dict[tuple[str, str], _Link] = {}
        self._last: dict[tuple[str, str], float] = {}
        self._heap: list[tuple[Any, ...]] = []
        self._seq = 0
        self._ids = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when = math.inf
        self._loop: asyncio.AbstractEventLoop | None = None
        # While _fire runs on a virtual loop: the next timer, not yet given to the loop.
        self._firing = False
        self._timer_seq = 0
        self._timer_context: contextvars.Context | None = None
        self._systems: dict[str, ActorSystem] = {}
        self._carried: tuple[ActorSystem, ...] = ()  # the systems, for a batch of wakes
        self._eager = EagerWakes()
        self._strict = False  # a strict system is attached: encode what crosses

    # ------------------------------------------------------------------ configuration

    def add_node(self, name: str, *, exempt: bool = False) -> None:
        """Model messages to and from the actor registered as ``name``.

        ``exempt`` nodes (a coordinator) are never cut off by a partition.
        """
        self._nodes[name] = None
        if exempt:
            self._exempt[name] = None

    @property
    def nodes(self) -> list[str]:
        """The modelled node names, in the order they were added."""
        return list(self._nodes)

    @property
    def latency_ms(self) -> tuple[float, float]:
        return (self._lo, self._hi)

    @latency_ms.setter
    def latency_ms(self, value: float | Sequence[float]) -> None:
        self._lo, self._hi = _check_latency(value)

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        """Split the nodes into ``groups``; nodes not listed form one more group."""
        mapping: dict[str, int] = {}
        for index, group in enumerate(groups):
            for name in group:
                if name in mapping:
                    raise ConfigError("partition", f"{name!r} is in more than one group")
                mapping[name] = index
        self._groups = mapping
        self._fault("partition", "network", repr([sorted(g) for g in _grouped(mapping)]))

    def heal(self) -> None:
        """Join every group again and end every one-way cut."""
        self._groups = None
        self._cuts.clear()
        self._fault("heal", "network")

    def connected(self, src: str, dst: str) -> bool:
        """Whether a message from ``src`` can reach ``dst`` (partition and cuts)."""
        return self._blocked(src, dst) is None

    def _blocked(self, src: str, dst: str) -> str | None:
        """Why ``src -> dst`` is down now ("cut", "partition"), or None."""
        if self._cuts and (src, dst) in self._cuts:
            return "cut"
        groups = self._groups
        if groups is None:
            return None
        if not self.partition_exempt and (src in self._exempt or dst in self._exempt):
            return None
        return None if groups.get(src, -1) == groups.get(dst, -1) else "partition"

    # ------------------------------------------------------------------ per-link faults

    def _check_nodes(self, field: str, *names: str) -> None:
        unknown = [n for n in names if n not in self._nodes]
        if unknown:
            raise ConfigError(field, f"names no node: {unknown!r}", allowed=", ".join(self._nodes))

    def cut(self, src: str, dst: str) -> None:
        """Cut the link ``src -> dst`` one way (``dst -> src`` still works)."""
        self._check_nodes("link", src, dst)
        self._cuts.add((src, dst))
        self._fault("cut", src, f"-> {dst}")

    def uncut(self, src: str, dst: str) -> None:
        """Restore the link ``src -> dst``."""
        self._check_nodes("link", src, dst)
        self._cuts.discard((src, dst))
        self._fault("uncut", src, f"-> {dst}")

    def cut_oneway(self, senders: Iterable[str], receivers: Iterable[str]) -> None:
        """A one-way partition: nothing from ``senders`` reaches ``receivers``."""
        src, dst = list(senders), list(receivers)
        self._check_nodes("partition_oneway", *src, *dst)
        for a in src:
            for b in dst:
                if a != b:
                    self._cuts.add((a, b))
        self._fault("cut", "network", f"{sorted(src)} -> {sorted(dst)}")

    def cuts(self) -> list[tuple[str, str]]:
        """The links cut now, sorted."""
        return sorted(self._cuts)

    def set_link(
        self,
        src: str,
        dst: str,
        *,
        drop_rate: float | None = None,
        latency_ms: float | Sequence[float] | None = None,
    ) -> None:
        """Give the link ``src -> dst`` its own loss rate and/or latency (None: unchanged).

        Use :meth:`reset_link` to go back to the network's settings.
        """
        self._check_nodes("link", src, dst)
        link = self._links.setdefault((src, dst), _Link())
        if drop_rate is not None:
            link.drop_rate = _check_rate("drop_rate", drop_rate)
        if latency_ms is not None:
            link.latency = _check_latency(latency_ms)
        detail = [f"-> {dst}"]
        if link.drop_rate is not None:
            detail.append(f"drop_rate={link.drop_rate:g}")
        if link.latency is not None:
            detail.append(f"latency_ms=[{link.latency[0]:g}, {link.latency[1]:g}]")
        self._fault("link", src, " ".join(detail))

    def reset_link(self, src: str, dst: str) -> None:
        """The link ``src -> dst`` uses the network's loss and latency again."""
        self._check_nodes("link", src, dst)
        self._links.pop((src, dst), None)
        self._fault("link", src, f"-> {dst} reset")

    def intercept(self, name: str, interceptor: Interceptor | None) -> None:
        """Tamper with every payload ``name`` sends (None removes the interceptor)."""
        if interceptor is None:
            self._interceptors.pop(name, None)
        else:
            self._interceptors[name] = interceptor
        self._fault("byzantine", name, None if interceptor is None else "intercepted")

    def note_fault(self, kind: str, target: str, detail: str | None = None) -> None:
        """Put a fault injected elsewhere (crash, restart) into the trace."""
        self._fault(kind, target, detail)

    def stats(self) -> dict[str, int]:
        return {
            "messages_sent": self.sent,
            "messages_delivered": self.delivered,
            "messages_dropped": self.dropped,
            "messages_duplicated": self.duplicated,
        }

    # ------------------------------------------------------------------ transport

    def attach(self, system: ActorSystem) -> None:
        """Carry ``system``'s messages (called by the system when it starts)."""
        self._systems[system.name] = system
        self._carried = tuple(self._systems.values())
        self._strict = self._strict or system.strict

    async def close(self) -> None:
        """A system this network carries has stopped: end the task lent to eager wakes."""
        self._eager.release()

    def send(self, envelope: Envelope) -> None:
        """Carry one envelope: modelled between two nodes, else handed on at once.

        The ends are nodes by their registered names (``src_name``, ``dst_name``); a
        name-addressed message (destination id 0) is resolved by the receiving system
        when it arrives (see the module docstring).
        """
        src = envelope.src_name
        dst = envelope.dst_name
        nodes = self._nodes
        if src not in nodes or dst not in nodes:
            self._systems[envelope.dst.node].deliver(envelope)
            return
        assert src is not None
        assert dst is not None
        if self._strict:
            # As it would cross between processes: encoded, decoded, then modelled.
            envelope = self._systems[envelope.src.node].roundtrip(envelope)
        self._route(envelope.kind, src, dst, envelope)

    # ------------------------------------------------------------------ the model

    def _now(self) -> float:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop.time()

    def _route(self, kind: int, src: str, dst: str, envelope: Envelope) -> None:
        loop = self._loop
        now = self._now() if loop is None else loop.time()
        self._ids += 1
        message_id = self._ids
        self.sent += 1
        trace = self.trace
        payload = envelope.payload
        interceptor = self._interceptors.get(src)
        note = None
        if interceptor is not None and kind != FAILURE:
            tampered = interceptor(payload, dst)
            if tampered is DROP:
                self._drop(now, message_id, src, dst, kind, payload, "byzantine_drop")
                return
            if tampered is not payload:
                payload, note = tampered, "tampered"
                envelope = msgspec.structs.replace(envelope, payload=tampered)
        if trace is not None:
            trace.record(now, "send", message_id, src, dst, _KINDS[kind], payload, note)
        # (No cut and no partition, the common case: nothing to ask _blocked.)
        blocked = self._blocked(src, dst) if self._cuts or self._groups is not None else None
        if blocked is not None:
            self._drop(now, message_id, src, dst, kind, payload, blocked)
            return
        rng = self.rng
        drop_rate = self.drop_rate
        lo, hi = self._lo, self._hi
        if self._links:
            override = self._links.get((src, dst))
            if override is not None:
                if override.drop_rate is not None:
                    drop_rate = override.drop_rate
                if override.latency is not None:
                    lo, hi = override.latency
        if drop_rate and rng.random() < drop_rate:
            self._drop(now, message_id, src, dst, kind, payload, "loss")
            return
        copies = 2 if self.duplicate_rate and rng.random() < self.duplicate_rate else 1
        if copies == 2:
            self.duplicated += 1
        for _ in range(copies):
            latency = lo if lo == hi else rng.uniform(lo, hi)
            when = now + latency / 1000.0
            if self._tick:
                # Whole ticks, never earlier than the latency drawn (the 1e-9 absorbs the
                # float error of a time that is already on a tick).
                when = math.ceil(when / self._tick - 1e-9) * self._tick
            if not self.reorder:
                link = (src, dst)
                last = self._last.get(link)
                if last is not None and last > when:
                    when = last
                self._last[link] = when
            self._seq += 1
            heapq.heappush(self._heap, (when, self._seq, message_id, kind, src, dst, envelope))
            if when < self._timer_when:
                self._schedule(when)

    def _schedule(self, when: float) -> None:
        if self._firing:
            # Held back: _fire may run it itself (see there). Its place among the loop's
            # timers and its context are taken now, as call_at would take them.
            assert isinstance(self._loop, VirtualEventLoop)
            self._timer_seq = self._loop._reserve_timer()
            self._timer_context = contextvars.copy_context()
            self._timer_when = when
            return
        if self._timer is not None:
            self._timer.cancel()
        loop = self._loop
        assert loop is not None
        self._timer = loop.call_at(when, self._fire)
        self._timer_when = when

    def _fire(self) -> None:
        loop = self._loop
        if not isinstance(loop, VirtualEventLoop):
            self._fire_once()
            return
        # On virtual time, as long as the loop's next turn would run only this network's
        # next timer, the network runs it here (and the loop's clock moves as that turn
        # would move it): a loop turn and a timer cheaper per delivery time.
        self._firing = True
        try:
            self._fire_once()
            while self._timer_when < math.inf and loop._advance_to(self._timer_when):
                context = self._timer_context
                assert context is not None
                context.run(self._fire_once)
        finally:
            self._firing = False
            if self._timer_when < math.inf:
                self._timer = loop._push_timer(
                    self._timer_seq, self._timer_when, self._fire, (), self._timer_context
                )
            self._timer_context = None

    def _fire_once(self) -> None:
        self._timer = None
        self._timer_when = math.inf
        loop = self._loop
        assert loop is not None
        now = loop.time()
        heap = self._heap
        deliver = self._deliver
        # The actors these deliveries wake run right after them, not a loop turn later,
        # when that is the same run (see mabeam.runtime._eager).
        eager = self._eager.begin(loop, self._carried)
        try:
            due = now + _EPSILON
            while heap and heap[0][0] <= due:
                _, _, message_id, kind, src, dst, envelope = heapq.heappop(heap)
                deliver(now, message_id, kind, src, dst, envelope)
            if heap:
                self._schedule(heap[0][0])
        finally:
            if eager:
                self._eager.finish()

    def _deliver(
        self, now: float, message_id: int, kind: int, src: str, dst: str, envelope: Envelope
    ) -> None:
        blocked = self._blocked(src, dst) if self._cuts or self._groups is not None else None
        payload = envelope.payload
        if blocked is not None:
            self._drop(now, message_id, src, dst, kind, payload, blocked)
            return
        problem = self._systems[envelope.dst.node].deliver(envelope)
        if problem is not None:
            # Gone, or stopping: the system made the dead letter (and failed an ask).
            self._drop(now, message_id, src, dst, kind, payload, problem)
            return
        self.delivered += 1
        if self.trace is not None:
            self.trace.record(now, "deliver", message_id, src, dst, _KINDS[kind], payload)

    def _drop(
        self,
        now: float,
        message_id: int,
        src: str,
        dst: str,
        kind: int,
        payload: Any,
        reason: str,
    ) -> None:
        self.dropped += 1
        if self.trace is not None:
            self.trace.record(now, "drop", message_id, src, dst, _KINDS[kind], payload, reason)

    def _fault(self, kind: str, target: str, detail: str | None = None) -> None:
        if self.trace is not None:
            loop = self._loop
            if loop is None:
                try:
                    loop = self._loop = asyncio.get_running_loop()
                except RuntimeError:
                    loop = None
            now = 0.0 if loop is None else loop.time()
            self.trace.fault(now, kind, target, detail)


def _grouped(mapping: dict[str, int]) -> list[list[str]]:
    groups: dict[int, list[str]] = {}
    for name, index in mapping.items():
        groups.setdefault(index, []).append(name)
    return [groups[i] for i in sorted(groups)]
