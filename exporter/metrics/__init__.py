"""Metric families (the catalogue), reading Bybit's fields into samples, and /metrics rendering."""
