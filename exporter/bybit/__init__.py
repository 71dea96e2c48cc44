"""The Bybit V5 side: signing, the request budget, the clock, the client and one module per
endpoint."""
