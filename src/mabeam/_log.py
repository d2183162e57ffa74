"""mabeam's logging: silent below WARNING unless the application asks, and cheap when unread.

Every event mabeam emits has a stable snake_case name and fields (``actor``, ``reason``,
...). Where it goes is the application's choice, by the usual routes:

- **Nothing configured** (the default): events go to the standard library's ``logging``
  loggers ``mabeam.runtime``, ``mabeam.actor``, ``mabeam.consensus`` ..., children of
  ``mabeam``. With no handler anywhere, Python prints WARNING and above to stderr (its
  "last resort" handler), so a crash report or a supervisor giving up is seen once and
  everything below is dropped before any formatting: an event nobody reads costs one
  level check.
- **stdlib logging**: set a level on the ``mabeam`` logger (or a child) and add handlers
  as for any library. Each record carries ``record.event`` (the event name) and
  ``record.fields`` (a dict) for structured handlers; its message renders as
  ``event key=value ...``.
- **structlog**: once the application configures structlog (``structlog.configure``),
  mabeam's events go through the application's structlog configuration instead, with the
  fields as key-value pairs, filtered by the application's wrapper class.
- :func:`configure_logging` is the one-line case: a handler on ``mabeam`` at a level,
  human-readable or JSON lines.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any, Final

from ._errors import ConfigError

LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}

_force_stdlib = False
"""Set by :func:`configure_logging`: route to stdlib even when structlog is configured."""


def _structlog() -> Any:
    """The structlog module if the application configured it (and did not ask for stdlib).

    mabeam never imports structlog itself: an application that has not imported it cannot
    have configured it, and importing it costs a command-line start-up tens of ms.
    """
    module = sys.modules.get("structlog")
    if module is None or _force_stdlib or not module.is_configured():
        return None
    return module


class _Event:
    """A record's message, rendered only if a handler formats it: ``event key=value ...``."""

    __slots__ = ("event", "fields")

    def __init__(self, event: str, fields: Mapping[str, Any]) -> None:
        self.event = event
        self.fields = fields

    def __str__(self) -> str:
        parts = [self.event]
        for key, value in self.fields.items():
            text = value if isinstance(value, str) else repr(value)
            if not text or any(c in text for c in " \"'=\n"):
                text = json.dumps(text)
            parts.append(f"{key}={text}")
        return " ".join(parts)


class Logger:
    """A structured logger for mabeam's events (and ``context.log`` in actors).

    ``log.info("event_name", key=value, ...)``; ``exc_info=exception`` attaches a
    traceback. :meth:`bind` returns a logger that adds fields to every event.
    """

    __slots__ = ("_bound", "_name", "_std", "_struct")

    def __init__(self, name: str, bound: Mapping[str, Any] | None = None) -> None:
        self._name = name
        self._bound: dict[str, Any] = dict(bound or {})
        self._std = logging.getLogger(name)
        self._struct: Any = None  # structlog's lazy proxy, made on first use

    @property
    def name(self) -> str:
        """The stdlib logger name (``mabeam.runtime`` ...)."""
        return self._name

    def bind(self, **fields: Any) -> Logger:
        """A logger that adds ``fields`` to every event."""
        return Logger(self._name, {**self._bound, **fields})

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, "debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, "info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, "warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, "error", event, fields)

    def critical(self, event: str, **fields: Any) -> None:
        self._log(logging.CRITICAL, "critical", event, fields)

    def is_enabled_for(self, level: int) -> bool:
        """Whether an event at ``level`` would be handled (stdlib routing), for costly fields."""
        if _structlog() is not None:
            return True
        return self._std.isEnabledFor(level)

    def _log(self, level: int, method: str, event: str, fields: dict[str, Any]) -> None:
        structlog = _structlog()
        if structlog is not None:
            struct = self._struct
            if struct is None:
                # A lazy proxy: it follows whatever configuration the application sets.
                struct = self._struct = structlog.get_logger(self._name)
            if self._bound:
                struct = struct.bind(**self._bound)
            getattr(struct, method)(event, **fields)
            return
        std = self._std
        if not std.isEnabledFor(level):
            return
        exc_info = fields.pop("exc_info", None)
        merged = {**self._bound, **fields} if self._bound else fields
        std.log(
            level,
            _Event(event, merged),
            exc_info=exc_info,
            extra={"event": event, "fields": merged},
            stacklevel=3,
        )


def get_logger(name: str) -> Logger:
    """mabeam's logger ``name`` (``mabeam.runtime`` ...)."""
    return Logger(name)


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        document: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", None) or record.getMessage(),
        }
        if isinstance(fields, Mapping):
            for key, value in fields.items():
                document.setdefault(key, value)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=repr)


_HANDLER_MARK: Final = "_mabeam_configure_logging"


def configure_logging(
    level: str | int = "info", *, json: bool = False, stream: IO[str] | None = None
) -> logging.Handler:
    """Show mabeam's events from ``level`` up on ``stream`` (stderr by default).

    The common case in one line: ``mabeam.configure_logging("debug")``. It sets the level
    of the ``mabeam`` logger and gives it one handler (replacing the one a previous call
    added), human-readable or, with ``json=True``, one JSON object per line; mabeam's
    events then go through stdlib logging even if structlog is configured. Returns the
    handler. For anything finer, configure ``logging`` or structlog yourself.
    """
    global _force_stdlib
    if isinstance(level, str):
        if level.lower() not in LEVELS:
            raise ConfigError("level", f"unknown level {level!r}", allowed=", ".join(LEVELS))
        number = LEVELS[level.lower()]
    elif isinstance(level, int) and not isinstance(level, bool):
        number = level
    else:
        raise TypeError(f"level must be a level name or a logging level number, got {level!r}")
    logger = logging.getLogger("mabeam")
    for old in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(
        _JsonFormatter()
        if json
        else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(number)
    logger.propagate = False
    _force_stdlib = True
    return handler
