"""Prometheus exporter for Bybit V5 accounts: balances, margin, positions, keys."""

__version__ = "0.1.0"
