"""Transports: actor systems in different processes or on different hosts talk (issue 16).

The NATS transport stands on :mod:`mabeam.transport._server`, which finds the official
``nats-server`` binary and runs it on a free loopback port for tests and benchmarks. The
client library is an optional extra (``pip install 'mabeam[nats]'``), so this package
imports nothing heavy: neither nats-py nor the runtime is loaded until a submodule is.
"""
