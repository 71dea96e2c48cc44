"""One module per Bybit endpoint. ENDPOINTS lists them: the scheduler, the catalogue, the
documentation's tables (docs/configuration.md, docs/metrics.md) and the tests all go from this
list."""

from __future__ import annotations

from exporter.bybit.endpoint import Endpoint
from exporter.bybit.endpoints import (account_info, api_key, assets, borrowing, deposits, funding,
                                     members, mmp, options, orders, positions, transactions,
                                     wallet)

ENDPOINTS: tuple[Endpoint, ...] = (wallet.ENDPOINT, account_info.ENDPOINT, positions.ENDPOINT,
                                   orders.ENDPOINT, borrowing.ENDPOINT, options.ENDPOINT,
                                   mmp.ENDPOINT, assets.ENDPOINT, funding.ENDPOINT,
                                   api_key.ENDPOINT, members.ENDPOINT, transactions.ENDPOINT,
                                   deposits.ENDPOINT)
BY_COLLECTOR = {endpoint.collector: endpoint for endpoint in ENDPOINTS}
