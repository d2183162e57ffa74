"""Every built-in protocol kind, in one explicit tuple.

Adding a kind: write its module (options Struct and ``KIND = Kind(...)``, see
:mod:`._kind`) and list its ``KIND`` here; the schema's ``[protocol]`` union, the
loader's rules and the runner all read this tuple.
"""

from __future__ import annotations

from . import _auction, _bargaining, _conflict, _consensus, _hierarchy, _market, _ping
from ._kind import Kind

KINDS: tuple[Kind, ...] = (
    _auction.KIND,
    _conflict.KIND,
    _consensus.KIND,
    _market.KIND,
    _bargaining.KIND,
    _hierarchy.KIND,
    _ping.KIND,
)
"""The built-in kinds, in the order they are listed to users (and in the JSON Schema)."""
