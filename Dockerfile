# bybit-exporter container image.
#   docker build -t bybit-exporter .
#   docker build --build-arg BASE_IMAGE=registry.example/python:3.12-slim -t bybit-exporter .
# Any Debian-based Python >= 3.11 image works as BASE_IMAGE (both stages use it).
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY exporter ./exporter
# The wheel and its dependencies go into a virtual environment that the final stage copies:
# no compiler, pip cache, sources or tests end up in the image.
RUN python3 -m venv /opt/bybit-exporter \
 && /opt/bybit-exporter/bin/python3 -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
 && /opt/bybit-exporter/bin/python3 -m pip install --no-cache-dir /wheels/bybit_exporter-*.whl \
 && install -d -m 0700 /var/lib/bybit-exporter

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="bybit-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Bybit V5 accounts: balances, margin, positions, keys"
COPY --from=build /opt/bybit-exporter /opt/bybit-exporter
# Money-flow totals (one SQLite file per account) are kept here across restarts: a volume owned
# by the exporter's UID, writable under a read-only root file system too. The flag comes from
# its variable: --storage.path=DIR on the command line wins, BYBIT_EXPORTER_STORAGE_PATH= (empty)
# turns it off.
COPY --from=build --chown=10001:10001 /var/lib/bybit-exporter /var/lib/bybit-exporter
VOLUME ["/var/lib/bybit-exporter"]
ENV PATH=/opt/bybit-exporter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BYBIT_EXPORTER_STORAGE_PATH=/var/lib/bybit-exporter
USER 10001:10001
EXPOSE 10788
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python3", "-m", "exporter.healthcheck"]
ENTRYPOINT ["bybit-exporter", "--config.file=/etc/bybit-exporter/config.yaml"]
