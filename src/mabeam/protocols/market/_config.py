"""The market's options, checked once (``PROTOCOLS.md`` "Markets")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..._errors import ConfigError

MECHANISMS = ("double_auction", "posted_price", "combinatorial_auction", "continuous_trading")
PRICINGS = ("uniform", "mcafee", "pairwise")
PAYMENT_RULES = ("first_price", "vcg")


@dataclass(frozen=True)
class MarketConfig:
    """How one market trades; ``reply_timeout`` and ``time_budget`` are seconds."""

    pricing_mechanism: str
    pricing: str = "uniform"
    prices: Mapping[str, float] = field(default_factory=dict)
    supply: Mapping[str, int] = field(default_factory=dict)
    payment_rule: str = "first_price"
    items: tuple[str, ...] | None = None
    reply_timeout: float = 1.0
    time_budget: float | None = 10.0

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("pricing_mechanism", self.pricing_mechanism, MECHANISMS),
            ("pricing", self.pricing, PRICINGS),
            ("payment_rule", self.payment_rule, PAYMENT_RULES),
        ):
            if value not in allowed:
                raise ConfigError(name, f"invalid value {value!r}", allowed=", ".join(allowed))
        for resource, price in self.prices.items():
            if not _finite(price) or price < 0:
                raise ConfigError(
                    f"prices.{resource}", f"must be a finite number >= 0, got {price!r}"
                )
        for resource, units in self.supply.items():
            if type(units) is not int or units < 0:
                raise ConfigError(f"supply.{resource}", f"must be an integer >= 0, got {units!r}")
        if not _finite(self.reply_timeout) or self.reply_timeout <= 0:
            raise ConfigError("reply_timeout", f"must be seconds > 0, got {self.reply_timeout!r}")
        if self.time_budget is not None and (
            not _finite(self.time_budget) or self.time_budget <= 0
        ):
            raise ConfigError(
                "time_budget", f"must be seconds > 0 or None, got {self.time_budget!r}"
            )


def _finite(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
