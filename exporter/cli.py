"""Command line: Prometheus-style flags, each with an environment fallback."""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from exporter import config as config_mod, logs
from exporter.build import build_info
from exporter.config import Config, ConfigError
from exporter.bybit.budget import MAX_REQUESTS, WINDOW_SECONDS, RequestBudget
from exporter.service.plan import describe, plan
from exporter.service.sharding import Shard, ordinal_from_hostname, shard_of
from exporter.web import DEFAULT_LISTEN_ADDRESS, DEFAULT_MAX_REQUESTS, webconfig
from exporter.web.addresses import parse_listen_addresses
from exporter.web.webconfig import WebConfig

M_ARENA_MAX = -8  # glibc's mallopt parameter number
log = logging.getLogger("exporter")


@dataclass(frozen=True)
class Flag:
    name: str
    env: str
    help: str
    default: str = ""
    metavar: str = ""  # "" for a switch
    repeatable: bool = False

    @property
    def dest(self) -> str:
        return self.name.lstrip("-")


# The one declaration of every flag: the parser, --help and the flags table of
# docs/configuration.md come from here.
FLAGS = (
    Flag("--config.file", "BYBIT_EXPORTER_CONFIG_FILE", "path to the YAML config", "config.yaml",
         "PATH"),
    Flag("--web.listen-address", "BYBIT_EXPORTER_WEB_LISTEN_ADDRESS",
         "HOST:PORT to serve on (:PORT every interface, [::1]:PORT for IPv6); repeat the flag "
         "to serve on several, or separate them with commas or spaces in the variable",
         DEFAULT_LISTEN_ADDRESS, "HOST:PORT", repeatable=True),
    Flag("--web.config.file", "BYBIT_EXPORTER_WEB_CONFIG_FILE",
         "exporter-toolkit web config: TLS and basic auth", "", "PATH"),
    Flag("--web.max-requests", "BYBIT_EXPORTER_WEB_MAX_REQUESTS",
         "worker threads answering requests in parallel; more wait their turn (at least 1)",
         str(DEFAULT_MAX_REQUESTS), "N"),
    Flag("--web.enable-lifecycle", "BYBIT_EXPORTER_WEB_ENABLE_LIFECYCLE",
         "enable POST /-/reload (off: it answers 403; SIGHUP always reloads)"),
    Flag("--log.level", "BYBIT_EXPORTER_LOG_LEVEL", "one of " + ", ".join(logs.LEVELS), "info",
         "LEVEL"),
    Flag("--log.format", "BYBIT_EXPORTER_LOG_FORMAT", "one of " + ", ".join(logs.FORMATS),
         "logfmt", "FORMAT"),
    Flag("--shard", "BYBIT_EXPORTER_SHARD", "this process's shard, 0 to total-shards - 1", "0",
         "N"),
    Flag("--total-shards", "BYBIT_EXPORTER_TOTAL_SHARDS",
         "how many shards share the accounts", "1", "M"),
    Flag("--shard.from-hostname", "BYBIT_EXPORTER_SHARD_FROM_HOSTNAME",
         "take the shard from a hostname ending in -N (a StatefulSet pod's ordinal)"),
    Flag("--bybit.request-budget", "BYBIT_EXPORTER_BYBIT_REQUEST_BUDGET",
         f"requests per {WINDOW_SECONDS:g} s this process may send to Bybit; default "
         f"{MAX_REQUESTS} divided by --total-shards, since shards may share an egress IP "
         f"(Bybit bans an IP past 600)", "", "N"),
    Flag("--storage.path", "BYBIT_EXPORTER_STORAGE_PATH",
         "directory where money-flow totals (transactions, deposits) are kept across restarts, "
         "one SQLite file per account; none: they start from zero at every start", "", "DIR"),
    Flag("--config.check", "BYBIT_EXPORTER_CONFIG_CHECK",
         "validate the config, print a summary without secrets, exit 0 (valid) or 2"),
    Flag("--demo", "BYBIT_EXPORTER_DEMO",
         "poll a built-in simulated Bybit with demo accounts; no keys needed"),
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _add(parser: argparse.ArgumentParser, flag: Flag) -> None:
    if not flag.metavar:
        parser.add_argument(flag.name, dest=flag.dest, action="store_true",
                            default=_env_true(flag.env), help=f"{flag.help} (env {flag.env}=true)")
        return
    shown = f", default {flag.default}" if flag.default else ""
    help_text = f"{flag.help} (env {flag.env}{shown})"
    if flag.repeatable:
        parser.add_argument(flag.name, dest=flag.dest, action="append", metavar=flag.metavar,
                            help=help_text)
    else:
        parser.add_argument(flag.name, dest=flag.dest, metavar=flag.metavar, help=help_text,
                            default=os.environ.get(flag.env, flag.default))


@dataclass(frozen=True)
class Options:
    config_file: str
    listen: tuple[tuple[str, int], ...]
    web_config_file: str
    max_requests: int
    lifecycle: bool
    log_level: str
    log_format: str
    shard: Shard
    request_budget: int  # per WINDOW_SECONDS
    config_check: bool
    demo: bool
    storage_path: Path | None = None


def parse_args(argv: list[str] | None) -> Options:
    parser = _Parser(prog="bybit-exporter", formatter_class=argparse.RawTextHelpFormatter,
                     description="Prometheus exporter for Bybit V5 account balances.")
    for flag in FLAGS:
        _add(parser, flag)
    parser.add_argument("--version", action="version", version=build_info().line())
    args = vars(parser.parse_args(argv))
    problems: list[str] = []
    options = _options(args, problems)
    if problems or options is None:
        parser.exit(2, "".join(f"bybit-exporter: error: {p}\n" for p in problems))
    return options


def _options(args: dict[str, Any], problems: list[str]) -> Options | None:
    level, fmt = logs.canonical(args["log.level"]), logs.canonical(args["log.format"])
    if level not in logs.LEVELS:
        problems.append(f"--log.level: must be one of {', '.join(logs.LEVELS)}")
    if fmt not in logs.FORMATS:
        problems.append(f"--log.format: must be one of {', '.join(logs.FORMATS)}")
    listen = _listen_addresses(args["web.listen-address"], problems)
    max_requests = _positive_int("--web.max-requests", args["web.max-requests"], problems)
    shard = _shard(args, problems)
    budget = args["bybit.request-budget"]
    if shard is not None and not budget:
        budget = str(max(1, MAX_REQUESTS // shard.total))
    request_budget = _positive_int("--bybit.request-budget", budget or "0", problems)
    storage = Path(args["storage.path"]) if args["storage.path"] else None
    if storage is not None and storage.exists() and not storage.is_dir():
        problems.append(f"--storage.path: {storage} is not a directory")
    if problems or shard is None or max_requests is None or request_budget is None:
        return None
    return Options(args["config.file"], listen, args["web.config.file"], max_requests,
                   args["web.enable-lifecycle"], level, fmt, shard, request_budget,
                   args["config.check"], args["demo"], storage)


def _listen_addresses(given: list[str] | None, problems: list[str]) -> tuple[tuple[str, int], ...]:
    texts = given or [os.environ.get("BYBIT_EXPORTER_WEB_LISTEN_ADDRESS", DEFAULT_LISTEN_ADDRESS)]
    try:
        return tuple(parse_listen_addresses(texts))
    except ValueError as exc:
        problems.append(f"--web.listen-address: {exc}")
        return ()


def _positive_int(name: str, text: str, problems: list[str]) -> int | None:
    if not text.strip().isdigit() or int(text) < 1:
        problems.append(f"{name}: must be a whole number of at least 1 (got {text!r})")
        return None
    return int(text)


def _shard(args: dict[str, Any], problems: list[str]) -> Shard | None:
    total = _positive_int("--total-shards", args["total-shards"], problems)
    if args["shard.from-hostname"]:
        try:
            index: int | None = ordinal_from_hostname()
        except ValueError as exc:
            problems.append(f"--shard.from-hostname: {exc}")
            return None
    else:
        text = args["shard"]
        index = int(text) if text.strip().isdigit() else None
        if index is None:
            problems.append(f"--shard: must be a whole number from 0 (got {text!r})")
    if total is None or index is None:
        return None
    if index >= total:
        problems.append(f"--shard: {index} must be less than --total-shards ({total})")
        return None
    return Shard(index, total)


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
    options = parse_args(argv)
    logs.setup(options.log_level, options.log_format)
    try:
        web = webconfig.load(options.web_config_file) if options.web_config_file else WebConfig()
        if options.demo:
            from exporter.demo import demo_config  # only for --demo

            config = demo_config()
            load: Callable[[], Config] = lambda: config  # noqa: E731
        else:
            config = config_mod.load_file(options.config_file)
            load = lambda: config_mod.load_file(options.config_file)  # noqa: E731
    except ConfigError as exc:
        return _print_problems(exc.problems)
    if options.config_check:
        print(check_report(config, options.shard, options.request_budget, options.config_file))
        return 0
    return run(config, options, web, load)


def check_report(config: Config, shard: Shard, budget: int, source: str) -> str:
    """--config.check: the config without secrets, this shard's accounts and the request rate
    every shard needs against the budget."""
    mine = shard.select(config.accounts)
    per_second = budget / WINDOW_SECONDS
    lines = [f"config OK: {source}", config_mod.summary(config)]
    if shard.total > 1:
        lines.append(f"shard {shard.index} of {shard.total}: {len(mine)} account(s): "
                     + ", ".join(a.name for a in mine))
        for index in range(shard.total):
            owned = [a for a in config.accounts if shard_of(a.name, shard.total) == index]
            lines.append(f"  shard {index}: {len(owned)} account(s), "
                         f"{describe(plan(owned, per_second))}")
    lines.append(describe(plan(mine, per_second)))
    return "\n".join(lines)


def run(config: Config, options: Options, web: WebConfig,
        load_config: Callable[[], Config]) -> int:
    from exporter.service.exporter import Exporter
    from exporter.service.status import status_view
    from exporter.web.routes import WebApp
    from exporter.web.server import raise_open_files_limit, serve
    from exporter.web.watch import FixedWebConfig, WatchedWebConfig

    exporter = Exporter(config, load_config, options.shard,
                        RequestBudget(limit=options.request_budget), options.storage_path)
    app = WebApp(render_metrics=exporter.render_metrics, ready=exporter.ready,
                 reload=exporter.reload if options.lifecycle else None,
                 status=lambda: status_view(exporter))
    # a changed --web.config.file (renewed certificate, other users) applies without a restart
    source = (WatchedWebConfig(options.web_config_file, web) if options.web_config_file
              else FixedWebConfig(web))
    exporter.web_config_ok = lambda: source.reload_ok
    raise_open_files_limit()  # a socket per connection and per account's session
    try:
        server = serve(app, list(options.listen), source, options.max_requests)
    except OSError as exc:
        print(f"bybit-exporter: error: --web.listen-address: cannot listen on {exc.filename}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 1
    info = build_info()
    log.info("listening", extra={"fields": {
        "addresses": ",".join(f"{h}:{p}" for h, p in server.addresses), "version": info.version,
        "revision": info.revision, "tls": web.ssl_context is not None,
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
    server.shutdown()
    logging.shutdown()
    # Polls still waiting on Bybit would hold interpreter exit for up to `timeout`: their
    # results are no longer wanted, so leave now instead of joining their threads.
    os._exit(0)
