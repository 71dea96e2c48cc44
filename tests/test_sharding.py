"""Accounts split over shards: disjoint, covering, stable, and moved as little as possible."""

import textwrap

import pytest

from exporter.service.sharding import Shard, ordinal_from_hostname, shard_of
from tests.conftest import sample, unified_account

NAMES = [f"account-{i}" for i in range(3000)]


def test_shards_never_overlap_and_together_cover_every_account():
    for total in (1, 2, 3, 7):
        owners = [[s for s in range(total) if Shard(s, total).owns(n)] for n in NAMES]
        assert all(len(o) == 1 for o in owners)
        counts = [sum(1 for o in owners if o == [s]) for s in range(total)]
        assert min(counts) > len(NAMES) / total * 0.8  # and spread evenly


def test_adding_a_shard_moves_only_the_accounts_the_new_shard_takes():
    for total in (1, 3, 4, 9):
        moved = [n for n in NAMES if shard_of(n, total) != shard_of(n, total + 1)]
        assert all(shard_of(n, total + 1) == total for n in moved)  # only to the new shard
        assert len(moved) < len(NAMES) / (total + 1) * 1.25


def test_the_hash_is_stable_across_processes_and_versions():
    assert [shard_of(f"account-{i}", 4) for i in range(8)] == \
        [shard_of(f"account-{i}", 4) for i in range(8)]
    assert shard_of("main", 4) == shard_of("main", 4)


@pytest.mark.parametrize("hostname, ordinal", [("bybit-exporter-0", 0),
                                               ("bybit-exporter-12.svc.cluster.local", 12)])
def test_ordinal_from_a_statefulset_hostname(hostname, ordinal):
    assert ordinal_from_hostname(hostname) == ordinal


def test_a_hostname_without_an_ordinal_is_refused():
    with pytest.raises(ValueError, match="does not end in -N"):
        ordinal_from_hostname("laptop")


def test_two_shard_processes_serve_disjoint_accounts_that_cover_the_config(
        simulator, tmp_path, exporter_process):
    keys = [f"SHARDKEY{i:02d}" for i in range(8)]
    sim = simulator([unified_account(key, f"S-{key}") for key in keys])
    config = tmp_path / "config.yaml"
    config.write_text("poll_interval: 1s\ncollect: [wallet]\naccounts:\n" + "".join(
        f"  - {{name: acct-{i}, api_key: {key}, api_secret: S-{key}, endpoint: '{sim.url}'}}\n"
        for i, key in enumerate(keys)))
    shards = [exporter_process(["--config.file", str(config), f"--shard={s}",
                                "--total-shards=2"]) for s in (0, 1)]
    served = []
    for index, process in enumerate(shards):
        process.wait_ready()
        samples = process.samples()
        assert sample(samples, "bybit_exporter_shard_info", shard=str(index),
                      total_shards="2") == 1.0
        served.append({dict(labels)["account"] for name, labels in samples
                       if name == "bybit_up"})
        assert served[-1] == {f"acct-{i}" for i in range(8) if shard_of(f"acct-{i}", 2) == index}
    assert served[0].isdisjoint(served[1]) and served[0] | served[1] == {
        f"acct-{i}" for i in range(8)}


def test_config_check_tells_each_shard_its_accounts_and_request_rate(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO

    config = tmp_path / "c.yaml"
    config.write_text("accounts:\n" + "".join(
        f"  - {{name: acct-{i}, api_key: k{i}, api_secret: s}}\n" for i in range(6)))
    result = subprocess.run([sys.executable, "-m", "exporter", "--config.check", "--config.file",
                             str(config), "--shard=1", "--total-shards=3"], cwd=REPO,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    mine = [f"acct-{i}" for i in range(6) if shard_of(f"acct-{i}", 3) == 1]
    assert f"shard 1 of 3: {len(mine)} account(s): {', '.join(mine)}" in result.stdout
    for index in range(3):
        assert textwrap.dedent(f"  shard {index}: ") in result.stdout
    assert "requests:" in result.stdout and "per 5 s" in result.stdout


def test_a_reload_keeps_each_shard_to_its_own_share(simulator):
    from exporter.config import load_text
    from exporter.service.exporter import Exporter

    keys = [f"RK{i:02d}" for i in range(10)]
    sim = simulator([unified_account(key, f"S-{key}") for key in keys])

    def config(count):
        return load_text("poll_interval: 1s\ncollect: [wallet]\naccounts:\n" + "".join(
            f"  - {{name: acct-{i}, api_key: {keys[i]}, api_secret: S-{keys[i]}, "
            f"endpoint: '{sim.url}'}}\n" for i in range(count)))

    exporter = Exporter(config(4), shard=Shard(1, 2))
    exporter.start()
    try:
        assert set(exporter.runners) == {f"acct-{i}" for i in range(4)
                                         if shard_of(f"acct-{i}", 2) == 1}
        exporter.load_config = lambda: config(10)
        assert exporter.reload() == (True, [])
        assert set(exporter.runners) == {f"acct-{i}" for i in range(10)
                                         if shard_of(f"acct-{i}", 2) == 1}
    finally:
        exporter.stop()
