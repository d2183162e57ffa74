"""Deterministic simulation: virtual time, a simulated network with faults, message traces."""

from ._clock import VirtualEventLoop as VirtualEventLoop
from ._clock import is_virtual as is_virtual
from ._clock import run_virtual as run_virtual
from ._disk import SimDisk as SimDisk
from ._network import DROP as DROP
from ._network import Interceptor as Interceptor
from ._network import SimNetwork as SimNetwork
from ._trace import Trace as Trace
from ._trace import TraceEvent as TraceEvent

__all__ = [
    "DROP",
    "Interceptor",
    "SimDisk",
    "SimNetwork",
    "Trace",
    "TraceEvent",
    "VirtualEventLoop",
    "is_virtual",
    "run_virtual",
]
