"""Checks of the durations callers pass (ask timeouts, timers): a clear error naming the field.

A wrong type is a :class:`TypeError`, a number out of range a
:class:`~mabeam.ConfigError` (a :class:`ValueError`); both say what was allowed.
"""

from __future__ import annotations

import math

from .._errors import ConfigError


def check_seconds(
    field: str,
    value: object,
    *,
    allow_none: bool = False,
    allow_zero: bool = True,
    allow_infinite: bool = False,
) -> float | None:
    """``value`` as seconds, or raise naming ``field`` and what it may be.

    With ``allow_infinite``, ``math.inf`` means "no limit" and comes back as None.
    """
    allowed = f"seconds {'>=' if allow_zero else '>'} 0" + (
        " (math.inf or None: no limit)" if allow_infinite and allow_none else ""
    )
    if allow_none and not allow_infinite:
        allowed += " or None"
    if value is None:
        if allow_none:
            return None
        raise TypeError(f"{field}: must be {allowed}, got None")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{field}: must be {allowed}, got {value!r} ({type(value).__name__})")
    try:
        seconds = float(value)
    except OverflowError:  # an int too large for a float: as infinite
        seconds = math.inf
    if math.isnan(seconds):
        raise ConfigError(field, f"must be {allowed}, got nan")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(field, f"must be {allowed}, got {value!r}")
    if math.isinf(seconds):
        if allow_infinite:
            return None
        raise ConfigError(field, f"must be {allowed} and finite, got {value!r}")
    return seconds
