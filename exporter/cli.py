"""Command line: Prometheus-style flags, each with an environment fallback."""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import sys
import threading

from typing import Callable

from exporter import __version__, config as config_mod, logs, webconfig
from exporter.config import Account, Config, ConfigError, Secret
from exporter.http import parse_listen_address
from exporter.webconfig import WebConfig

DEFAULT_PORT = 10788
M_ARENA_MAX = -8  # glibc's mallopt parameter number
DEMO_POLL_INTERVAL = 5.0
log = logging.getLogger("exporter")

# (flag, environment variable, default, help)
FLAGS = (
    ("--config.file", "BYBIT_EXPORTER_CONFIG_FILE", "config.yaml", "path to the YAML config"),
    ("--web.listen-address", "BYBIT_EXPORTER_WEB_LISTEN_ADDRESS", f":{DEFAULT_PORT}",
     "address to serve /metrics on, HOST:PORT"),
    ("--web.config.file", "BYBIT_EXPORTER_WEB_CONFIG_FILE", "",
     "exporter-toolkit web config: TLS and basic auth"),
    ("--log.level", "BYBIT_EXPORTER_LOG_LEVEL", "info", "one of " + ", ".join(logs.LEVELS)),
    ("--log.format", "BYBIT_EXPORTER_LOG_FORMAT", "text", "one of " + ", ".join(logs.FORMATS)),
)
METAVARS = {"--config.file": "PATH", "--web.listen-address": "HOST:PORT",
            "--web.config.file": "PATH", "--log.level": "LEVEL", "--log.format": "FORMAT"}
SWITCHES = (
    ("--config.check", "BYBIT_EXPORTER_CONFIG_CHECK",
     "validate the config, print a summary without secrets, exit 0 (valid) or 2"),
    ("--demo", "BYBIT_EXPORTER_DEMO",
     "poll a built-in simulated Bybit with three demo accounts; no keys needed"),
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(prog="bybit-exporter",
                     description="Prometheus exporter for Bybit V5 wallet balances.")
    for flag, env, default, help_text in FLAGS:
        shown = f", default {default}" if default else ""
        parser.add_argument(flag, default=os.environ.get(env, default), metavar=METAVARS[flag],
                            help=f"{help_text} (env {env}{shown})")
    for flag, env, help_text in SWITCHES:
        parser.add_argument(flag, action="store_true", default=_env_true(env),
                            help=f"{help_text} (env {env}=true)")
    parser.add_argument("--version", action="version", version=f"bybit-exporter {__version__}")
    args = parser.parse_args(argv)
    problems = []
    if args.__dict__["log.level"] not in logs.LEVELS:
        problems.append(f"--log.level: must be one of {', '.join(logs.LEVELS)}")
    if args.__dict__["log.format"] not in logs.FORMATS:
        problems.append(f"--log.format: must be one of {', '.join(logs.FORMATS)}")
    try:
        args.listen = parse_listen_address(args.__dict__["web.listen_address"])
    except ValueError as exc:
        problems.append(f"--web.listen-address: {exc}")
    if problems:
        parser.exit(2, "".join(f"bybit-exporter: error: {p}\n" for p in problems))
    return args


def _print_problems(problems: list[str]) -> int:
    for problem in problems:
        print(f"bybit-exporter: config error: {problem}", file=sys.stderr)
    return 2


def limit_malloc_arenas() -> None:
    """glibc gives threads their own malloc arenas; dozens of polling threads allocating and
    freeing rendered buffers then fragment memory: 178 MB RSS at 200 accounts x 30 coins
    against 84 MB with two arenas (benchmarks/bench.py). Same as MALLOC_ARENA_MAX=2, unless
    the user set that variable; a no-op where libc is not glibc."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, 2)
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    limit_malloc_arenas()  # before any thread starts
    args = parse_args(argv)
    logs.setup(args.__dict__["log.level"], args.__dict__["log.format"])
    try:
        web = _web_config(args)
        if args.demo:
            return _run_demo(args, web)
        config_file = args.__dict__["config.file"]
        config = config_mod.load_file(config_file)
    except ConfigError as exc:
        return _print_problems(exc.problems)
    if args.__dict__["config.check"]:
        print(f"config OK: {config_file}\n{config_mod.summary(config)}")
        return 0
    return run(config, args.listen, web, lambda: config_mod.load_file(config_file))


def _web_config(args: argparse.Namespace) -> WebConfig:
    path = args.__dict__["web.config.file"]
    return webconfig.load(path) if path else WebConfig()


def _run_demo(args: argparse.Namespace, web: WebConfig) -> int:
    from exporter import simulator

    sim_accounts, demo = simulator.demo_accounts()
    sim = simulator.BybitSimulator(sim_accounts).start()
    accounts = tuple(
        Account(name=d.name, api_key=Secret(d.api_key), api_secret=Secret(d.secret),
                rsa_private_key=None, account_types=d.account_types, coins=(),
                endpoint=sim.url, recv_window_ms=5000, poll_interval=DEMO_POLL_INTERVAL)
        for d in demo)
    config = Config(accounts=accounts, poll_interval=DEMO_POLL_INTERVAL, timeout=5.0,
                    stale_after=60.0)
    log.info("demo mode: polling the built-in simulated Bybit",
             extra={"fields": {"simulator": sim.url}})
    if args.__dict__["config.check"]:
        print(config_mod.summary(config))
        return 0
    return run(config, args.listen, web, lambda: config)


def run(config: Config, listen: tuple[str, int], web: WebConfig,
        load_config: Callable[[], Config]) -> int:
    from exporter.service import Exporter

    exporter = Exporter(config, load_config)
    try:
        host, port = exporter.listen(*listen, web)
    except OSError as exc:
        print(f"bybit-exporter: error: --web.listen-address: cannot listen on "
              f"{listen[0] or '*'}:{listen[1]}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    log.info("listening", extra={"fields": {"address": f"{host}:{port}", "version": __version__,
                                            "tls": web.ssl_context is not None,
                                            "basic_auth": web.needs_auth}})
    stop, reload = threading.Event(), threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    exporter.start()
    while not stop.wait(0.2):
        if reload.is_set():  # reloaded here, not inside the signal handler
            reload.clear()
            exporter.reload()
    log.info("stopping")
    exporter.stop()
    logging.shutdown()
    # Polls still waiting on Bybit would hold interpreter exit for up to `timeout`: their
    # results are no longer wanted, so leave now instead of joining their threads.
    os._exit(0)
