"""The command line as a user meets it: flags, env fallbacks, exit codes, one line per problem."""

import json
import signal
import socket
import subprocess
import sys
import time

import requests

from tests.conftest import REPO, ExporterProcess, sample

GOOD = "accounts:\n  - name: main\n    api_key: k\n    api_secret: ${THE_SECRET}\n"


def run(*args, env=None, timeout=20):
    full_env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", **(env or {})}
    return subprocess.run([sys.executable, "-m", "exporter", *args], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def test_version_and_build_info_tell_the_same_facts(exporter_process):
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("bybit-exporter 0.1.0")
    revision = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    branch = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--abbrev-ref", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    python = ".".join(map(str, sys.version_info[:3]))
    assert f"(branch: {branch}, revision: {revision})" in result.stdout
    assert f"python version: {python}" in result.stdout
    exporter = exporter_process(["--demo"])
    exporter.wait_ready()
    assert sample(exporter.samples(), "bybit_exporter_build_info", version="0.1.0",
                  revision=revision, branch=branch, pythonversion=python) == 1.0


def test_help_documents_every_env_fallback():
    out = run("--help").stdout
    for env in ("BYBIT_EXPORTER_CONFIG_FILE", "BYBIT_EXPORTER_WEB_LISTEN_ADDRESS",
                "BYBIT_EXPORTER_LOG_LEVEL", "BYBIT_EXPORTER_LOG_FORMAT",
                "BYBIT_EXPORTER_CONFIG_CHECK", "BYBIT_EXPORTER_DEMO"):
        assert env in out


def test_config_check_prints_a_summary_without_secrets(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(GOOD)
    result = run("--config.check", "--config.file", str(path), env={"THE_SECRET": "hunter2hunter2"})
    assert result.returncode == 0, result.stderr
    assert "main: types=UNIFIED" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr


def test_config_file_from_the_environment(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(GOOD)
    result = run("--config.check", env={"BYBIT_EXPORTER_CONFIG_FILE": str(path),
                                        "THE_SECRET": "x"})
    assert result.returncode == 0, result.stderr


def test_bad_config_exits_2_with_one_line_per_problem_and_no_traceback(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("timeout: never\naccounts:\n  - {name: a, api_key: k}\n")
    result = run("--config.check", "--config.file", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "bybit-exporter: config error: timeout: must be a duration such as 30s, 5m or a number "
        "of seconds (got 'never')",
        "bybit-exporter: config error: accounts[0]: set exactly one of api_secret, "
        "api_secret_file, rsa_private_key_file",
    ]
    missing = run("--config.file", str(tmp_path / "missing.yaml"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.startswith("bybit-exporter: config error: config.file: cannot read")


def test_bad_flags_exit_2_with_one_clear_line():
    for args, words in [(["--log.level", "loud"], "--log.level: must be one of"),
                        (["--web.listen-address", "nohost"], "--web.listen-address: must be"),
                        (["--no-such-flag"], "unrecognized arguments")]:
        result = run(*args)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr


def test_busy_port_is_one_line_exit_1(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(GOOD)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("--config.file", str(path), "--web.listen-address", f"127.0.0.1:{port}",
                     env={"THE_SECRET": "x"})
    assert result.returncode == 1
    assert "cannot listen on 127.0.0.1" in result.stderr and "Traceback" not in result.stderr


def test_json_logs_are_one_object_per_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("accounts:\n  - {name: a, api_key: k, api_secret: s, "
                    "endpoint: 'http://127.0.0.1:9'}\n")
    exporter = ExporterProcess(["--config.file", str(path), "--log.format", "json",
                                "--log.level", "debug"])
    try:
        exporter.wait_ready()
        time.sleep(0.2)
    finally:
        exporter.proc.send_signal(signal.SIGTERM)
        exporter.stop()
    entries = [json.loads(line) for line in exporter.output.splitlines() if line.strip()]
    assert {"ts", "level", "logger", "msg"} <= set(entries[0])
    failure = next(e for e in entries if e["msg"] == "poll failed")
    assert failure["account"] == "a" and failure["reason"] == "network"
    assert failure["level"] == "warn"


def test_the_example_config_is_valid(tmp_path):
    secret = tmp_path / "hedge.secret"
    secret.write_text("x\n")
    text = (REPO / "config.example.yaml").read_text()
    path = tmp_path / "config.yaml"
    path.write_text(text.replace("/run/secrets/bybit_hedge_secret", str(secret)))
    result = run("--config.check", "--config.file", str(path),
                 env={"BYBIT_MAIN_KEY": "k", "BYBIT_MAIN_SECRET": "s", "BYBIT_HEDGE_KEY": "k2"})
    assert result.returncode == 0, result.stderr
    assert "2 account(s)" in result.stdout


def test_every_listen_address_is_served_and_reload_needs_the_lifecycle_flag(tmp_path):
    from tests.conftest import free_port, wait_for

    path = tmp_path / "c.yaml"
    path.write_text(GOOD)
    ports = [free_port(), free_port()]
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter", "--config.file", str(path),
         "--web.listen-address", f"127.0.0.1:{ports[0]}", "--web.listen-address",
         f"127.0.0.1:{ports[1]}"], cwd=REPO, env={"PATH": "/usr/bin:/bin", "THE_SECRET": "x"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for port in ports:
            wait_for(lambda port=port: requests.get(f"http://127.0.0.1:{port}/-/healthy",
                                                    timeout=2).ok)
        refused = requests.post(f"http://127.0.0.1:{ports[0]}/-/reload", timeout=5)
        assert refused.status_code == 403 and "--web.enable-lifecycle" in refused.text
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0


def test_log_levels_and_formats_have_promslog_names_and_the_old_ones_still_work(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(GOOD)
    for level, fmt in (("warn", "logfmt"), ("warning", "text"), ("error", "json")):
        result = run("--config.check", "--config.file", str(path), "--log.level", level,
                     "--log.format", fmt, env={"THE_SECRET": "x"})
        assert result.returncode == 0, (level, fmt, result.stderr)
    bad = run("--log.format", "xml")
    assert bad.returncode == 2 and "--log.format: must be one of logfmt, json" in bad.stderr


def test_the_license_is_the_one_pyproject_names():
    assert '{ text = "Apache-2.0" }' in (REPO / "pyproject.toml").read_text()
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
