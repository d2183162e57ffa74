"""The message trace: every send, delivery, drop and fault, with virtual time.

Recording is cheap (a tuple appended per event); payloads are encoded with msgspec
only when the trace is exported, as JSON lines or as a Mermaid sequence diagram.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, Any, Final, Literal, TypeAlias

import msgspec

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

    def to_mermaid(self, *, max_events: int = 500) -> str:
        """A Mermaid sequence diagram of deliveries, drops and faults (for small runs)."""
        lines = ["sequenceDiagram"]
        participants: dict[str, None] = {}
        body: list[str] = []
        shown = 0
        for now, event, _mid, src, dst, _kind, payload, note in self._records:
            if event == "send":
                continue
            type_name = payload if event == "fault" else type(payload).__name__
            if shown >= max_events:
                body.append(f"    Note over {next(iter(participants), 'sim')}: trace truncated")
                break
            shown += 1
            t_ms = round(now * 1000.0, 3)
            if event == "fault":
                participants.setdefault(dst, None)
                body.append(f"    Note over {_mm(dst)}: {t_ms} ms {type_name}{_detail(note)}")
                continue
            participants.setdefault(src, None)
            participants.setdefault(dst, None)
            arrow = "->>" if event == "deliver" else "-x"
            label = type_name if event == "deliver" else f"{type_name} dropped{_detail(note)}"
            body.append(f"    {_mm(src)}{arrow}{_mm(dst)}: {t_ms} ms {label}")
        lines.extend(f"    participant {_mm(p)}" for p in participants)
        lines.extend(body)
        return "\n".join(lines) + "\n"


def _detail(note: str | None) -> str:
    return f" ({note})" if note else ""


def _mm(name: str) -> str:
    """A Mermaid-safe participant id."""
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name) or "_"
