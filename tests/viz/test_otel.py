"""OpenTelemetry: asks and scenario runs are spans, inside the application's own spans."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from mabeam import Actor, ActorCrashedError, ActorDeadError, ActorRef, ActorSystem
from mabeam.scenario import parse_scenario
from mabeam.viz import otel
from mabeam.viz.gallery import GALLERY


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("asked to crash")
        return message


@pytest.fixture
def exporter() -> Iterator[tuple[InMemorySpanExporter, TracerProvider]]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    assert otel.instrument(provider) is True
    try:
        yield memory, provider
    finally:
        otel.uninstrument()


async def test_asks_are_spans_inside_the_callers_span(
    exporter: tuple[InMemorySpanExporter, TracerProvider],
) -> None:
    memory, provider = exporter
    app = provider.get_tracer("app")
    async with ActorSystem() as system:
        echo = await system.spawn(Echo, name="echo")
        with app.start_as_current_span("request"):
            assert await echo.ask("hi", timeout=1.0) == "hi"
        with pytest.raises(ActorCrashedError):
            await echo.ask("crash", timeout=1.0)
    spans = {span.name: span for span in memory.get_finished_spans() if span.name == "request"}
    asks = [span for span in memory.get_finished_spans() if span.name == "mabeam.ask"]
    assert len(asks) == 2
    ok, crashed = asks
    assert ok.attributes is not None
    assert dict(ok.attributes) == {
        "mabeam.actor": "echo",
        "mabeam.sender": "",
        "mabeam.message_type": "str",
        "mabeam.message": "str",
    }
    assert ok.parent is not None
    assert ok.parent.span_id == spans["request"].context.span_id
    assert crashed.status.status_code is StatusCode.ERROR


async def test_each_ask_of_an_ask_all_is_a_span_ended_by_its_own_answer(
    exporter: tuple[InMemorySpanExporter, TracerProvider],
) -> None:
    memory, provider = exporter
    app = provider.get_tracer("app")
    async with ActorSystem() as system:
        await system.spawn(Echo, name="one")
        await system.spawn(Echo, name="two")
        await system.spawn(Echo, name="three")
        with app.start_as_current_span("request"):
            answers = await system.ask_all(["one", "nobody", "two"], "crash", timeout=1.0)
        assert [type(a) for a in answers] == [ActorCrashedError, ActorDeadError, ActorCrashedError]
        with app.start_as_current_span("request"):
            assert await system.ask_all(["three"], "hi", timeout=1.0) == ["hi"]
    finished = memory.get_finished_spans()
    requests = [span for span in finished if span.name == "request"]
    asks = [span for span in finished if span.name == "mabeam.ask"]
    assert sorted((s.attributes or {})["mabeam.actor"] for s in asks) == [
        "nobody",
        "one",
        "three",
        "two",
    ]
    for span in asks:
        assert span.parent is not None
        assert span.parent.span_id in {r.context.span_id for r in requests}
        assert span.end_time is not None
        assert span.start_time is not None
        assert span.end_time >= span.start_time
    failed = [s for s in asks if s.status.status_code is StatusCode.ERROR]
    assert len(failed) == 3
    assert any("ActorDeadError" in (s.status.description or "") for s in failed)
    otel.uninstrument()
    async with ActorSystem() as system:
        await system.spawn(Echo, name="four")
        assert await system.ask_all(["four"], "hi") == ["hi"]
    assert len(memory.get_finished_spans()) == len(finished)  # no span once uninstrumented


async def test_uninstrumented_asks_make_no_spans(
    exporter: tuple[InMemorySpanExporter, TracerProvider],
) -> None:
    memory, _ = exporter
    otel.uninstrument()
    assert not otel.instrumented()
    assert ActorRef.ask.__qualname__ == "ActorRef.ask"
    async with ActorSystem() as system:
        echo = await system.spawn(Echo)
        assert await echo.ask(1, timeout=1.0) == 1
    assert memory.get_finished_spans() == ()


def test_a_scenario_run_is_a_span_with_its_rounds(
    exporter: tuple[InMemorySpanExporter, TracerProvider],
) -> None:
    memory, _ = exporter
    scenario = parse_scenario(GALLERY["english"].encode(), path="english.toml", fmt="toml")
    report, _ = otel.run_scenario(scenario)
    assert report.ok
    spans = memory.get_finished_spans()
    (run,) = [span for span in spans if span.name == "mabeam.scenario"]
    assert run.attributes is not None
    assert run.attributes["mabeam.protocol"] == "auction"
    assert run.attributes["mabeam.ok"] is True
    parents = {span.context.span_id: span.parent for span in spans}

    def under_run(span: Any) -> bool:
        parent = span.parent
        while parent is not None:
            if parent.span_id == run.context.span_id:
                return True
            parent = parents.get(parent.span_id)
        return False

    asks = [span for span in spans if span.name == "mabeam.ask"]
    assert all(under_run(span) for span in asks)
    rounds = [s for s in asks if s.attributes and s.attributes["mabeam.sender"] == "coordinator"]
    assert len(rounds) >= 3 * 8  # every bidder, every round
    for span in rounds:
        assert span.attributes is not None
        assert span.attributes["mabeam.actor"] in ("a", "b", "c")
    labels = {span.attributes["mabeam.message"] for span in rounds if span.attributes}
    assert "PriceAnnouncement round=3 price=3" in labels


def test_without_instrument_run_scenario_is_a_plain_run() -> None:
    scenario = parse_scenario(GALLERY["sealed"].encode(), path="s.toml", fmt="toml")
    report, _ = otel.run_scenario(scenario)
    assert report.ok


def test_a_no_op_when_opentelemetry_is_absent() -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "from mabeam.viz import otel\n"
        "print(otel.available(), otel.instrument(), otel.instrumented())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False", "False"]
