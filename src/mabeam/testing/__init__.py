"""Test kit for your own agents: a pytest plugin, loaded when mabeam is installed.

pytest loads its plugin (the module ``pytest_mabeam``) by its ``pytest11`` entry point, so a project
that depends on mabeam gets, with nothing to configure:

- the ``virtual_time`` marker: the async test runs on a
  :class:`~mabeam.sim.VirtualEventLoop`, whose clock jumps to the next timer whenever
  nothing is ready (a 30-second timeout takes no wall time);
- the ``virtual_time`` fixture: the same, asked for by name; it returns the running loop;
- the ``actor_system`` fixture: an :class:`~mabeam.ActorSystem` entered for the test and
  stopped after it;
- the ``mabeam_events`` fixture: a :class:`CapturedEvents` list of every event mabeam logs
  during the test, whichever route logging takes (stdlib or structlog).

The async fixtures need pytest-asyncio (``pip install 'mabeam[testing]'``).
"""

from ._events import CapturedEvent, CapturedEvents, capture_events

__all__ = ["CapturedEvent", "CapturedEvents", "capture_events"]
