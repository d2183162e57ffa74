"""Coordination protocols: one package or module per family, each a pure core plus actors.

Imported by path (``from mabeam.protocols.ping import PingCoordinator``) so the top level
stays small.
"""
