"""Pykka contenders (thread-based actors), imported only when Pykka is installed.

Pykka is installed for the benchmark only (the ``bench`` extra), never a dependency:
:mod:`benchmarks.runtime` imports this module lazily and reports ``"pykka": null``
when the import fails.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pykka

from ._common import Figures, timer

VERSION = version("pykka")


class _Counter(pykka.ThreadingActor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def on_receive(self, message: Any) -> Any:
        self.count += 1
        return self.count


class _Echo(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        return message


class _Idle(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        return None


def tell(n: int) -> Figures:
    """``n`` tells to one actor, then one ask that waits until it has handled them all."""
    ref = _Counter.start()
    try:
        send = ref.tell
        start = timer()
        for i in range(n):
            send(i)
        handled = ref.ask(None)
        elapsed = timer() - start
    finally:
        ref.stop()
    if handled != n + 1:
        raise RuntimeError(f"pykka counter handled {handled}, expected {n + 1}")
    return {"seconds": elapsed}


def ask(n: int) -> Figures:
    """``n`` sequential blocking asks to one actor."""
    ref = _Echo.start()
    try:
        call = ref.ask
        start = timer()
        for i in range(n):
            call(i)
        elapsed = timer() - start
    finally:
        ref.stop()
    return {"seconds": elapsed}


def spawn(n: int) -> Figures:
    """Start ``n`` idle actors (one thread each), then stop them all."""
    start = timer()
    refs = [_Idle.start() for _ in range(n)]
    spawned = timer() - start
    start = timer()
    pykka.ActorRegistry.stop_all()
    stopped = timer() - start
    if any(ref.is_alive() for ref in refs):
        raise RuntimeError("pykka actors still alive after ActorRegistry.stop_all()")
    return {"spawn": spawned, "shutdown": stopped}
