"""The pure core of one node's part in a round: ask children, combine, bypass the silent.

A :class:`Gathering` is what one agent does with one request: it starts from its own
value, asks its children (in *batches*: the children that share a wait, see
:meth:`Structure.wait`), folds each answer in, and when a batch expires it skips the
children that stayed silent (they are missing) and asks *their* children instead — so
only agents that are down go missing. A child that is down is asked like any other
(the request is sent, and counted, whether or not anything receives it): a node cannot
tell a dead child from a slow one before its wait is over. No clock and no I/O: the
actor shell sends the requests, runs a timer per batch and feeds answers and expiries
back in.

``messages`` counts what PROTOCOLS.md counts, requests sent plus answers received: each
request this node sent, and each answer from a node it asked that arrived while it was
still gathering — folded in if awaited, counted only if late or repeated (a duplicate
on a lossy network) — with the messages inside that answer's subtree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .aggregate import Summary, combine_all
from .messages import Partial
from .structure import Structure


@dataclass(frozen=True, slots=True)
class Batch:
    """Children asked together, each to answer within ``wait`` seconds."""

    number: int
    wait: float
    nodes: tuple[int, ...]


class Gathering:
    """One node's work on one request (see the module docstring)."""

    __slots__ = (
        "_asked",
        "_batches",
        "_next_batch",
        "messages",
        "missing",
        "node",
        "parts",
        "pending",
        "reply_timeout",
        "structure",
    )

    def __init__(self, structure: Structure, node: int, own: Summary, reply_timeout: float) -> None:
        self.structure = structure
        self.node = node
        self.parts: list[Summary] = [own]  # own value, then each answer's summary
        self.reply_timeout = reply_timeout
        self.missing: list[str] = []
        self.messages = 0
        self.pending: dict[int, int] = {}  # node asked -> its batch number
        self._asked: set[int] = set()  # every node asked (membership only, never iterated)
        self._batches: dict[int, Batch] = {}
        self._next_batch = 0

    @property
    def done(self) -> bool:
        """True when no child (or adopted grandchild) is still awaited."""
        return not self.pending

    def start(self) -> list[Batch]:
        """The batches to ask first: this node's children."""
        return self._ask(self.structure.children[self.node])

    def sent(self) -> None:
        """The shell sent one request (whether or not anything will receive it)."""
        self.messages += 1

    def answered(self, node: int, partial: Partial) -> bool:
        """Fold in ``node``'s answer; False if it was not awaited.

        An answer from a node this gathering asked that is no longer awaited (it came
        after its wait, or twice) is counted in :attr:`messages` but not folded in: its
        responders are missing or already counted. One from a node never asked is stray
        and ignored.
        """
        if node not in self._asked:
            return False
        self.messages += 1 + partial.messages
        if self.pending.pop(node, None) is None:
            return False
        self.parts.append(partial.summary)
        self.missing.extend(partial.missing)
        return True

    def expired(self, number: int) -> list[Batch]:
        """Batch ``number`` timed out: its silent nodes are missing, their children asked."""
        batch = self._batches.pop(number, None)
        if batch is None:
            return []
        late = [node for node in batch.nodes if self.pending.get(node) == number]
        children = self.structure.children
        for node in late:
            del self.pending[node]
            self.missing.append(self.structure.ids[node])
        return self._ask(child for node in late for child in children[node])

    @property
    def summary(self) -> Summary:
        """Everything answered so far, combined."""
        return combine_all(self.parts)

    def partial(self, request: int) -> Partial:
        """The answer to send up: the subtree's summary, missing ids sorted, messages."""
        return Partial(
            request=request,
            summary=self.summary,
            missing=tuple(sorted(self.missing)),
            messages=self.messages,
        )

    def _ask(self, nodes: Iterable[int]) -> list[Batch]:
        by_wait: dict[float, list[int]] = {}
        structure, timeout = self.structure, self.reply_timeout
        for node in nodes:
            by_wait.setdefault(structure.wait(node, timeout), []).append(node)
        batches = []
        for wait, members in by_wait.items():
            self._next_batch += 1
            batch = Batch(self._next_batch, wait, tuple(members))
            self._batches[batch.number] = batch
            for node in members:
                self.pending[node] = batch.number
                self._asked.add(node)
            batches.append(batch)
        return batches
