"""A real Prometheus server (Debian's `prometheus` package) on loopback, for tests."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import requests

from tests.conftest import debian_tool, free_port, wait_for


def binary(name: str) -> str:
    """prometheus or promtool, from Debian's prometheus package."""
    return debian_tool(name, "prometheus")


class Prometheus:
    def __init__(self, workdir: Path, config: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_file = workdir / "prometheus.yml"
        self.config_file.write_text(config)
        self._log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [binary("prometheus"), f"--config.file={self.config_file}",
             f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT)
        wait_for(lambda: requests.get(self.url + "/-/ready", timeout=2).status_code == 200,
                 timeout=30)

    def query(self, expr: str) -> list[dict]:
        response = requests.get(self.url + "/api/v1/query", params={"query": expr}, timeout=10)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def targets(self) -> list[dict]:
        response = requests.get(self.url + "/api/v1/targets", timeout=10)
        return response.json()["data"]["activeTargets"]

    def alerts(self) -> list[dict]:
        response = requests.get(self.url + "/api/v1/alerts", timeout=10)
        return response.json()["data"]["alerts"]

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
