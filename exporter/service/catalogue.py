"""Every metric family the exporter serves, in the order it serves them: the single source for
HELP/TYPE lines and rendering, and what the tests hold docs/ (every family documented) and the
dashboard (every series it queries served, or recorded by a rule) to. It gathers the endpoint
modules' families (the Bybit side) and the health and exporter-wide ones (exporter.metrics), so
it sits above both: the metrics layer renders whatever families it is given."""

from __future__ import annotations

from exporter.bybit.endpoints import ENDPOINTS
from exporter.metrics.family import (COLLECTOR_HEALTH, EXPORTER_FAMILIES, INVALID_FIELDS,
                                     WALLET_HEALTH, Family)

ENDPOINT_FAMILIES: tuple[Family, ...] = tuple(
    family for endpoint in ENDPOINTS for family in endpoint.families)
HEALTH_FAMILIES: tuple[Family, ...] = (INVALID_FIELDS, *WALLET_HEALTH.all(),
                                       *COLLECTOR_HEALTH.all())
FAMILIES: tuple[Family, ...] = ENDPOINT_FAMILIES + HEALTH_FAMILIES + EXPORTER_FAMILIES


def _unique(families: tuple[Family, ...]) -> tuple[Family, ...]:
    """A family shared by two endpoints (bybit_coin_wallet_balance, say) is declared once and
    must be the same object: one HELP, one TYPE."""
    seen: dict[str, Family] = {}
    for family in families:
        if seen.setdefault(family.name, family) != family:
            raise AssertionError(f"{family.name} is declared twice, differently")
    return tuple(seen.values())


SERVED: tuple[Family, ...] = _unique(FAMILIES)
