"""OpenTelemetry spans for mabeam's work: asks and scenario runs (the ``mabeam[otel]`` extra).

Only ``opentelemetry-api`` is used: the application chooses the SDK and the exporter,
and mabeam's spans appear inside its own requests::

    import mabeam.viz.otel

    mabeam.viz.otel.instrument()  # once, at start-up; False if OpenTelemetry is absent

Then every ``await ref.ask(...)``, and each ask an ``ask_all`` makes, is a span
``mabeam.ask`` (attributes
``mabeam.actor``, ``mabeam.sender``, ``mabeam.message_type`` and ``mabeam.message``, the
message's label with the fields that matter: a Raft term, an auction round and price),
a child of whatever span is current, marked as an error when the ask times out or the
actor crashed. :func:`run_scenario` runs a scenario inside a span ``mabeam.scenario``;
the coordinator's asks in it are the protocol's rounds (one per bidder per round, per
turn, per request), named by the actors they go to.

Nothing is patched until :func:`instrument` is called: without it (or without
OpenTelemetry) an ask costs exactly what it did. :func:`uninstrument` undoes it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from ..runtime import ActorRef, _multi
from ..runtime._state import current_context
from ._milestones import label_of

if TYPE_CHECKING:
    from ..scenario import RunReport, Scenario
    from ..sim import SimNetwork

_TRACER_NAME = "mabeam"
_original_ask: Callable[..., Coroutine[Any, Any, Any]] | None = None
_tracer: Any = None


def available() -> bool:
    """Whether ``opentelemetry-api`` can be imported."""
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        return False
    return True


def instrument(tracer_provider: Any = None) -> bool:
    """Trace asks from now on (idempotent); returns False (and does nothing) when
    OpenTelemetry is not installed. ``tracer_provider``: the global one by default."""
    global _original_ask, _tracer
    if not available():
        return False
    from opentelemetry import trace

    _tracer = trace.get_tracer(_TRACER_NAME, tracer_provider=tracer_provider)
    if _original_ask is None:
        original = ActorRef.ask
        _original_ask = original

        @functools.wraps(original)
        async def ask(self: ActorRef, message: Any, **kwargs: Any) -> Any:
            sender = current_context.get()
            attributes = {
                "mabeam.actor": self.label,
                "mabeam.sender": getattr(sender, "_label", "") or "",
                "mabeam.message_type": type(message).__name__,
                "mabeam.message": label_of(message),
            }
            with _tracer.start_as_current_span("mabeam.ask", attributes=attributes):
                return await original(self, message, **kwargs)

        ActorRef.ask = ask  # type: ignore[method-assign]
        _multi.set_observer(_ask_all_span)
    return True


def _ask_all_span(actor: str, sender: Any, message: Any) -> Callable[[Any], None]:
    """One of ask_all's asks: a span from when it is made until its answer or error."""
    attributes = {
        "mabeam.actor": actor,
        "mabeam.sender": getattr(sender, "_label", "") or "",
        "mabeam.message_type": type(message).__name__,
        "mabeam.message": label_of(message),
    }
    span = _tracer.start_span("mabeam.ask", attributes=attributes)

    def end(outcome: Any) -> None:
        if isinstance(outcome, BaseException):
            from opentelemetry.trace import Status, StatusCode

            span.record_exception(outcome)
            span.set_status(Status(StatusCode.ERROR, f"{type(outcome).__name__}: {outcome}"))
        span.end()

    return end


def uninstrument() -> None:
    """Stop tracing asks: ``ActorRef.ask`` is the original again."""
    global _original_ask, _tracer
    if _original_ask is not None:
        ActorRef.ask = _original_ask  # type: ignore[method-assign]
        _multi.set_observer(None)
    _original_ask = None
    _tracer = None


def instrumented() -> bool:
    return _original_ask is not None


def run_scenario(scenario: Scenario, **kwargs: Any) -> tuple[RunReport, SimNetwork]:
    """:func:`mabeam.scenario.run_scenario` inside a span ``mabeam.scenario`` (a plain
    call when :func:`instrument` was not called), with the protocol, the seed, the
    outcome and the message counts as attributes."""
    from ..scenario import run_scenario as run
    from ..scenario._run import protocol_kind

    if _tracer is None:
        return run(scenario, **kwargs)
    attributes = {
        "mabeam.scenario": scenario.name,
        "mabeam.protocol": protocol_kind(scenario),
        "mabeam.agents": len(scenario.agents),
    }
    with _tracer.start_as_current_span("mabeam.scenario", attributes=attributes) as span:
        report, network = run(scenario, **kwargs)
        span.set_attribute("mabeam.seed", report.seed)
        span.set_attribute("mabeam.ok", report.ok)
        span.set_attribute("mabeam.messages_sent", report.stats.messages_sent)
        span.set_attribute("mabeam.virtual_ms", report.stats.virtual_ms)
        if report.error is not None:
            span.set_attribute("mabeam.error", report.error.code)
        return report, network
