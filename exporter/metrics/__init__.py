"""Metric families, reading Bybit's fields into samples, and /metrics rendering: whatever
families it is given (exporter.service.catalogue lists those the exporter serves)."""
