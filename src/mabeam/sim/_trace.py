"""The message trace: every send, delivery, drop and fault, with virtual time.

Recording is cheap (a tuple appended per event); payloads are encoded with msgspec
only when the trace is exported, as JSON lines or as a Mermaid sequence diagram.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, Any, Final, Literal, NamedTuple, TypeAlias

import msgspec

from .._errors import ConfigError
from ..runtime import ActorRef

Event: TypeAlias = Literal["send", "deliver", "drop", "fault"]
EVENTS: Final = ("send", "deliver", "drop", "fault")

_Record: TypeAlias = tuple[float, str, int, str, str, str, Any, str | None]
"""(virtual seconds, event, message id, from, to, kind, payload, note); a fault's payload
is its kind."""


class TraceEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One line of the exported trace."""

    t_ms: float
    event: Event
    id: int
    src: str = msgspec.field(name="from")
    dst: str = msgspec.field(name="to")
    kind: str
    type: str
    payload: Any = None
    note: str | None = None


def _enc_hook(obj: Any) -> Any:
    """Encode what msgspec cannot natively: refs by label, exceptions by repr, else repr."""
    if isinstance(obj, ActorRef):
        return obj.label
    if isinstance(obj, BaseException):
        return repr(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=repr)
    return repr(obj)


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook, order="deterministic")


def encode_payload(payload: Any) -> Any:
    """The payload as plain JSON-able data, deterministic (sorted dict keys)."""
    return msgspec.json.decode(_encoder.encode(payload))


class Trace:
    """An append-only record of network events; counters are kept by the network."""

    def __init__(self) -> None:
        self._records: list[_Record] = []
        self._milestones: list[tuple[float, str, str, dict[str, Any]]] = []

    def __len__(self) -> int:
        return len(self._records)

    def record(
        self,
        now: float,
        event: Event,
        message_id: int,
        src: str,
        dst: str,
        kind: str,
        payload: Any,
        note: str | None = None,
    ) -> None:
        self._records.append((now, event, message_id, src, dst, kind, payload, note))

    def fault(self, now: float, kind: str, target: str, detail: str | None = None) -> None:
        """Record an injected fault (crash, restart, partition, heal, byzantine)."""
        self._records.append((now, "fault", 0, "sim", target, kind, kind, detail))

    def events(self) -> Iterator[TraceEvent]:
        """The recorded events as structs, in the order they happened."""
        for now, event, message_id, src, dst, kind, payload, note in self._records:
            fault = event == "fault"
            yield TraceEvent(
                t_ms=round(now * 1000.0, 6),
                event=event,  # type: ignore[arg-type]
                id=message_id,
                src=src,
                dst=dst,
                kind=kind,
                type=payload if fault else type(payload).__name__,
                payload=None if fault else encode_payload(payload),
                note=note,
            )

    def write_jsonl(self, out: IO[bytes]) -> None:
        """Write one JSON object per line (same seed and scenario: the same bytes)."""
        encoder = msgspec.json.Encoder(order="deterministic")
        for event in self.events():
            out.write(encoder.encode(event))
            out.write(b"\n")

    def to_jsonl(self) -> bytes:
        buffer = io.BytesIO()
        self.write_jsonl(buffer)
        return buffer.getvalue()

    def milestone(self, now: float, node: str, name: str, **args: Any) -> None:
        """Note a protocol milestone the messages do not show (e.g. a block made final).

        Milestones live beside the records: they never appear in :meth:`write_jsonl`,
        so the JSON-lines trace of a run is the same with or without them.
        """
        self._milestones.append((now, node, name, args))

    def noted_milestones(self) -> list[tuple[float, str, str, dict[str, Any]]]:
        """The milestones noted with :meth:`milestone`, in the order they were noted."""
        return list(self._milestones)

    def records(self) -> list[_Record]:
        """The raw records ``(seconds, event, id, from, to, kind, payload, note)``, live
        payloads included (for the visualisations in :mod:`mabeam.viz`)."""
        return list(self._records)

    def diagram(self, *, max_events: int = 500, max_participants: int = 24) -> Diagram:
        """The rows of a sequence diagram of deliveries, drops, faults and role changes.

        The one place lanes, labels, folding and truncation are decided: :meth:`to_mermaid`
        and :func:`mabeam.viz.sequence.sequence_svg` both draw these rows. Messages are
        labelled with the fields that matter (term and index for Raft, price for bids,
        view and sequence for PBFT); role changes (candidate, leader, primary) and faults
        are notes. At most ``max_participants`` lanes: the busiest ones, the others are
        folded into one lane ``others``. Past ``max_events`` the rest is counted, not drawn.
        """
        from ..viz._milestones import ROLE_CHANGES, derive_milestones, label_of

        if max_events < 1 or max_participants < 2:
            raise ConfigError(
                "max_events, max_participants",
                f"got {max_events}, {max_participants}",
                allowed="max_events >= 1 and max_participants >= 2",
            )
        events = [r for r in self._records if r[1] != "send"]
        # Distinct role changes in the order they were derived (not a set: ties in time
        # would then be ordered by string hash, differing between processes).
        notes = dict.fromkeys(
            (m.t, m.node, m.label) for m in derive_milestones(self) if m.name in ROLE_CHANGES
        )
        activity: dict[str, int] = {}
        for _now, event, _mid, src, dst, _kind, _payload, _note in events:
            if event != "fault":
                activity[src] = activity.get(src, 0) + 1
            activity[dst] = activity.get(dst, 0) + 1
        # The coordinator first, then the busiest (ties: in order of appearance).
        order = {name: i for i, name in enumerate(activity)}
        lanes = sorted(activity, key=lambda n: (n != "coordinator", -activity[n], order[n]))
        folded: set[str] = set()
        if len(lanes) > max_participants:
            folded = set(lanes[max_participants - 1 :])

        def lane(name: str) -> str:
            return OTHERS if name in folded else name

        # Role changes are notes at the time of the message that reveals them.
        pending = sorted(notes, key=lambda n: n[0])
        participants: dict[str, None] = {}
        rows: list[DiagramRow] = []
        shown = skipped = 0
        total = 0
        for now, event, _mid, src, dst, _kind, payload, note in events:
            while pending and pending[0][0] <= now:
                t, node, label = pending.pop(0)
                if shown < max_events and node not in folded:
                    participants.setdefault(node, None)
                    rows.append(DiagramRow("role", node, node, round(t * 1000.0, 3), label))
            total += 1
            if event != "fault" and src in folded and dst in folded:
                skipped += 1
                continue
            if shown >= max_events:
                continue
            shown += 1
            t_ms = round(now * 1000.0, 3)
            if event == "fault":
                target = lane(dst)
                participants.setdefault(target, None)
                text = f"{payload}{_detail(note)}{f' ({dst})' if dst in folded else ''}"
                rows.append(DiagramRow("fault", target, target, t_ms, text))
                continue
            a, b = lane(src), lane(dst)
            participants.setdefault(a, None)
            participants.setdefault(b, None)
            label = label_of(payload)
            if event == "drop":
                label = f"{label} dropped{_detail(note)}"
            rows.append(DiagramRow("deliver" if event == "deliver" else "drop", a, b, t_ms, label))
        fold_note = None
        if folded:
            fold_note = (
                f"{len(activity)} participants, the {max_participants - 1} busiest shown; "
                f"{len(folded)} folded into {OTHERS}, {skipped} messages among them not drawn"
            )
        drawable = total - skipped
        truncation_note = None
        if drawable > shown:
            truncation_note = (
                f"truncated: {shown} of {drawable} events shown, "
                f"{drawable - shown} more not drawn (max_events={max_events})"
            )
        return Diagram(list(participants), rows, fold_note, truncation_note)

    def to_mermaid(self, *, max_events: int = 500, max_participants: int = 24) -> str:
        """A Mermaid sequence diagram of deliveries, drops, faults and role changes.

        Messages are numbered (``autonumber``) and labelled with the fields that matter
        (term and index for Raft, price for bids, view and sequence for PBFT); role
        changes (candidate, leader, primary) and faults are notes. At most
        ``max_participants`` lanes are drawn: the busiest ones, the others are folded into
        one lane ``others`` and a note says how many. Past ``max_events`` a note says the
        diagram is truncated and by how much. The rows are :meth:`diagram`'s.
        """
        diagram = self.diagram(max_events=max_events, max_participants=max_participants)
        lines = ["sequenceDiagram", "    autonumber"]
        lines.extend(f"    participant {_mm(p)}" for p in diagram.participants)
        first = _mm(next(iter(diagram.participants), "sim"))
        if diagram.fold_note is not None:
            lines.append(f"    Note over {first}: {diagram.fold_note}")
        for row in diagram.rows:
            if row.kind == "role":
                lines.append(f"    Note over {_mm(row.src)}: {row.t_ms} ms {row.text}")
            elif row.kind == "fault":
                lines.append(f"    Note over {_mm(row.src)}: {row.t_ms} ms {_text(row.text)}")
            else:
                arrow = "->>" if row.kind == "deliver" else "-x"
                lines.append(
                    f"    {_mm(row.src)}{arrow}{_mm(row.dst)}: {row.t_ms} ms {_text(row.text)}"
                )
        if diagram.truncation_note is not None:
            lines.append(f"    Note over {first}: {diagram.truncation_note}")
        return "\n".join(lines) + "\n"


class DiagramRow(NamedTuple):
    """One row of a sequence diagram: a message arrow or a note over one lane."""

    kind: Literal["deliver", "drop", "fault", "role"]
    """``deliver`` and ``drop`` are arrows (numbered); ``fault`` and ``role`` are notes."""
    src: str
    """The lane the arrow starts from, or the note's lane."""
    dst: str
    """The lane the arrow points at (a note's lane again)."""
    t_ms: float
    """Virtual milliseconds, rounded to 3 decimals."""
    text: str
    """The label: the message's fields, ``... dropped (why)``, the fault, the role."""


class Diagram(NamedTuple):
    """A sequence diagram before it is written out (see :meth:`Trace.diagram`)."""

    participants: list[str]
    """The lanes, in order of first appearance (``others`` for the folded ones)."""
    rows: list[DiagramRow]
    fold_note: str | None
    """How many participants were folded into ``others``, when some were."""
    truncation_note: str | None
    """How many events were not drawn past ``max_events``, when some were not."""

    @property
    def messages(self) -> int:
        """The number of arrows (the diagram numbers them 1, 2, ...)."""
        return sum(1 for row in self.rows if row.kind in ("deliver", "drop"))


OTHERS: Final = "others"
"""The lane that participants past the cap of a Mermaid diagram are folded into."""


def _text(label: str) -> str:
    """Mermaid message text: no ``;`` or ``#`` (they end or escape a statement)."""
    return label.replace(";", ",").replace("#", "no.")


def _detail(note: str | None) -> str:
    return f" ({note})" if note else ""


def _mm(name: str) -> str:
    """A Mermaid-safe participant id."""
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name) or "_"
