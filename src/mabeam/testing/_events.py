"""Capture mabeam's log events, on whichever route they take (stdlib or structlog)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import structlog

from .. import _log

CapturedEvent = dict[str, Any]
"""One event: ``event`` (its name), ``level`` (``"info"`` ...) and the event's fields."""


class CapturedEvents(list[CapturedEvent]):
    """The events mabeam logged while capturing, in order (a list of dicts)."""

    def names(self) -> list[str]:
        """The event names, in order."""
        return [e["event"] for e in self]

    def find(self, event: str, **fields: Any) -> list[CapturedEvent]:
        """The events named ``event`` whose fields include every ``fields`` item."""
        return [
            e
            for e in self
            if e["event"] == event and all(e.get(k, _MISSING) == v for k, v in fields.items())
        ]


_MISSING = object()


class _Handler(logging.Handler):
    def __init__(self, into: CapturedEvents) -> None:
        super().__init__(logging.NOTSET)
        self._into = into

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "event", None)
        fields = getattr(record, "fields", None)
        entry: CapturedEvent = {
            "event": event if isinstance(event, str) else record.getMessage(),
            "level": record.levelname.lower(),
        }
        if isinstance(fields, dict):
            for key, value in fields.items():
                entry.setdefault(key, value)
        if record.exc_info and record.exc_info[1] is not None:
            entry.setdefault("exc_info", record.exc_info[1])
        self._into.append(entry)


@contextlib.contextmanager
def capture_events(level: str | int = "debug") -> Iterator[CapturedEvents]:
    """Collect every event mabeam logs from ``level`` up inside the block.

    On the stdlib route (structlog not configured, or :func:`mabeam.configure_logging`
    called) a handler on the ``mabeam`` logger records each event and the logger's level is
    lowered to ``level`` for the block. On the structlog route (your application called
    ``structlog.configure``) structlog's own ``capture_logs`` records them, filtered by your
    wrapper class. Either way the route is not changed and everything is restored after.
    """
    number = _log.LEVELS[level.lower()] if isinstance(level, str) else level
    events = CapturedEvents()
    logger = logging.getLogger("mabeam")
    handler = _Handler(events)
    handler.setLevel(number)
    saved_level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > number:
        logger.setLevel(number)
    try:
        if structlog.is_configured() and not _log._force_stdlib:
            with _structlog_capture(events, number):
                yield events
        else:
            yield events
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved_level)


@contextlib.contextmanager
def _structlog_capture(events: CapturedEvents, number: int) -> Iterator[None]:
    """Put a recording processor in place of the configured ones (as structlog's own
    ``capture_logs`` does), appending live so a test can look while it runs."""

    def record(_logger: Any, method: str, event_dict: Any) -> Any:
        entry: CapturedEvent = dict(event_dict)
        entry.pop("log_level", None)
        level = "error" if method == "exception" else method
        entry["level"] = level
        if _log.LEVELS.get(level, logging.INFO) >= number:
            events.append(entry)
        raise structlog.DropEvent

    processors = structlog.get_config()["processors"]
    saved = list(processors)
    processors.clear()
    processors.append(record)
    structlog.configure(processors=processors)
    try:
        yield
    finally:
        processors.clear()
        processors.extend(saved)
        structlog.configure(processors=processors)
