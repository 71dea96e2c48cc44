"""Prometheus exporter for Bybit V5 wallet balances."""

__version__ = "0.1.0"
