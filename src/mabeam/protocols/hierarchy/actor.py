"""The hierarchy's actors: an agent that answers for itself and its subtree, and a round.

:class:`HierarchyAgent` is both a participant and a (sub-)coordinator: asked with
:class:`Collect`, it sends the request to each child by name (``context.tell``: to one
that is down the request travels and is dropped on arrival, a dead letter; the parent
learns nothing until that child's wait is over), folds their
:class:`Partial` answers into its own value with a :class:`Gathering` and answers its
asker with one :class:`Partial`. It never blocks its mailbox: answers and its own
:class:`Expired` timers arrive as messages, so it can serve several requests at once
(a grandparent that adopted it while its parent is slow, say).

:class:`HierarchyRound` starts one round at the root when asked :class:`Begin` and
answers that ask with the :class:`HierarchyResult` (or error ``root_down``) once the
root's answer or its wait is over (``context.reply_later``): the application awaits the
round through ``ask``, nothing of its own crosses into the actor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from ...runtime import Actor, ActorContext, ActorRef, DeferredReply, Timer
from .aggregate import Aggregate, finish, of
from .gathering import Batch, Gathering
from .messages import Begin, Collect, Expired, GetValue, Partial, SetValue
from .structure import Structure

ROOT_DOWN = "root_down"


def tell_by_name(context: ActorContext, name: str, message: Any) -> None:
    """Send ``message`` to whatever actor is registered as ``name`` when it arrives.

    A coordinator addresses its children by name and cannot know whether one is up:
    :meth:`ActorContext.tell <mabeam.runtime.ActorContext.tell>` (Erlang's
    ``Name ! Message``). On the simulated network the request travels like any message
    (counted as sent, traced) and one that finds no actor on arrival is dropped there
    (a dead letter); a child restarted meanwhile gets it. The sender counts it as sent
    and waits for an answer as it would for a live child.
    """
    context.tell(name, message)


class HierarchyResult(msgspec.Struct, frozen=True, omit_defaults=True):
    """A round's outcome (PROTOCOLS.md): ``error`` is ``root_down`` when it had none."""

    value: float | None
    responders: int
    missing: list[str]
    depth: int
    messages: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class _Job:
    gathering: Gathering
    reply_to: ActorRef
    request: int
    collect: Collect
    timers: list[Timer] = field(default_factory=list)


class HierarchyAgent(Actor):
    """An agent with a numeric value, coordinating its children in ``structure``.

    Override :meth:`current_value` to answer with something computed at request time.
    """

    def __init__(self, agent_id: str, value: float, structure: Structure) -> None:
        self.agent_id = agent_id
        self.value = float(value)
        self.structure = structure
        self.node = structure.index[agent_id]
        self._jobs: dict[int, _Job] = {}
        self._next_job = 0

    def current_value(self) -> float:
        """The value this agent answers with (its ``value`` unless overridden)."""
        return self.value

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Partial):
            self._partial(message)
        elif isinstance(message, Collect):
            self._collect(message)
        elif isinstance(message, Expired):
            job = self._jobs.get(message.gathering)
            if job is not None:
                self._expired(message, job)
        elif isinstance(message, SetValue):
            self.value = float(message.value)
        elif isinstance(message, GetValue):
            return self.value
        else:
            raise TypeError(f"unexpected message {type(message).__name__}")
        return None

    def _collect(self, message: Collect) -> None:
        sender = self.context.sender
        if sender is None:
            self.context.log.warning("hierarchy_request_without_sender", agent=self.agent_id)
            return
        own = of(self.current_value(), message.aggregate)
        if not self.structure.children[self.node]:  # a leaf answers at once
            sender.tell(Partial(request=message.request, summary=own))
            return
        gathering = Gathering(self.structure, self.node, own, message.reply_timeout_ms / 1000.0)
        self._next_job += 1
        key = self._next_job
        job = _Job(gathering, sender, message.request, message)
        self._jobs[key] = job
        self._ask(key, job, gathering.start())
        self._maybe_done(key, job)

    def _ask(self, key: int, job: _Job, batches: list[Batch]) -> None:
        ids = self.structure.ids
        gathering = job.gathering
        collect = msgspec.structs.replace(job.collect, request=key)
        for batch in batches:
            job.timers.append(self.context.send_after(batch.wait, Expired(key, batch.number)))
            for node in batch.nodes:
                gathering.sent()
                tell_by_name(self.context, ids[node], collect)

    def _expired(self, message: Expired, job: _Job) -> None:
        gathering = job.gathering
        known = len(gathering.missing)
        batches = gathering.expired(message.batch)
        for child in gathering.missing[known:]:
            self.context.log.info(
                "hierarchy_child_skipped", agent=self.agent_id, child=child, reason="timeout"
            )
        self._ask(message.gathering, job, batches)
        self._maybe_done(message.gathering, job)

    def _partial(self, message: Partial) -> None:
        job = self._jobs.get(message.request)
        sender = self.context.sender
        if job is None or sender is None or sender.name is None:
            return
        node = self.structure.index.get(sender.name)
        if node is not None and job.gathering.answered(node, message):
            self._maybe_done(message.request, job)

    def _maybe_done(self, key: int, job: _Job) -> None:
        if not job.gathering.done:
            return
        for timer in job.timers:
            timer.cancel()
        del self._jobs[key]
        job.reply_to.tell(job.gathering.partial(job.request))


class HierarchyRound(Actor):
    """Runs one round from the root; answers the :class:`Begin` ask with the
    :class:`HierarchyResult`.

    Asked :class:`Begin`, it sends the request to the root (by name) and waits for its
    answer as long as a parent would (:meth:`Structure.wait`); a root that does not
    answer in time (down, cut off, or crashed mid-round) is error ``root_down``. The
    ask is answered then (a later Begin gets the same result); a coordinator that exits
    first fails the ask at once.
    """

    def __init__(
        self,
        structure: Structure,
        aggregate: Aggregate,
        reply_timeout: float,
        *,
        variable: str | None = None,
    ) -> None:
        self.structure = structure
        self.aggregate: Aggregate = aggregate
        self.reply_timeout = reply_timeout
        self.variable = variable
        self.result: HierarchyResult | None = None
        self._waiting: list[DeferredReply] = []
        self._timer: Timer | None = None
        self._started = 0.0
        self._begun = False

    async def receive(self, message: Any) -> HierarchyResult | None:
        if isinstance(message, Begin):
            if self.result is not None:
                return self.result
            self._waiting.append(self.context.reply_later())
            if not self._begun:
                self._begun = True
                self._begin()
        elif isinstance(message, Partial):
            sender = self.context.sender
            if sender is not None and sender.name == self.structure.root:
                self._finish(message)
        elif isinstance(message, Expired):
            self._root_down()
        else:
            raise TypeError(f"unexpected message {type(message).__name__}")
        return None

    def _over(self) -> bool:
        """True once the round has its result."""
        return self.result is not None

    def _begin(self) -> None:
        structure = self.structure
        self._started = self.context.time()
        self.context.log.info(
            "coordination_started",
            protocol="hierarchy",
            variable=self.variable,
            agents=len(structure),
            structure=structure.shape,
            aggregate=self.aggregate,
        )
        wait = structure.wait(0, self.reply_timeout)
        self._timer = self.context.send_after(wait, Expired(0, 0))
        timeout_ms = self.reply_timeout * 1000.0
        request = Collect(1, self.aggregate, timeout_ms, self.variable)
        tell_by_name(self.context, structure.root, request)

    def _finish(self, partial: Partial) -> None:
        if self._over():
            return
        if self._timer is not None:
            self._timer.cancel()
        summary = partial.summary
        result = HierarchyResult(
            value=finish(summary, self.aggregate),
            responders=summary.count,
            missing=list(partial.missing),
            depth=self.structure.depth,
            messages=partial.messages,
        )
        self._report(result)

    def _root_down(self) -> None:
        if self._over():
            return
        result = HierarchyResult(
            value=None,
            responders=0,
            missing=sorted(self.structure.ids),
            depth=self.structure.depth,
            messages=0,
            error=ROOT_DOWN,
        )
        self.context.log.warning(
            "hierarchy_root_down", root=self.structure.root, variable=self.variable
        )
        self._report(result)

    def _report(self, result: HierarchyResult) -> None:
        log = self.context.log
        log.info(
            "coordination_result",
            protocol="hierarchy",
            variable=self.variable,
            ok=result.ok,
            value=result.value,
            error=result.error,
            responders=result.responders,
            missing=len(result.missing),
            messages=result.messages,
        )
        elapsed_ms = round((self.context.time() - self._started) * 1000.0, 6)
        log.info(
            "coordination_stopped",
            protocol="hierarchy",
            variable=self.variable,
            elapsed_ms=elapsed_ms,
        )
        self.result = result
        waiting, self._waiting = self._waiting, []
        for handle in waiting:
            handle.reply(result)
