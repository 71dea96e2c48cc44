"""Where the money-flow totals (--storage.path) live once deployed: a volume of the image owned
by its UID, one persistent volume per StatefulSet shard under a read-only root, and the systemd
unit's StateDirectory. Each place gives the flag through the variable the CLI declares for it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporter import cli
from tests.test_deploy import (REPO, UNIT, container, one, pod_spec, render, run,
                               systemd_analyze, unit_settings)

DOCKERFILE = (REPO / "Dockerfile").read_text()
FINAL_STAGE = DOCKERFILE[DOCKERFILE.rindex("\nFROM"):]
BUILD_STAGE = DOCKERFILE[:DOCKERFILE.rindex("\nFROM")]
(STORAGE_FLAG,) = [flag for flag in cli.FLAGS if flag.name == "--storage.path"]
VARIABLE = STORAGE_FLAG.env


def image_storage_dir() -> str:
    match = re.search(rf"^\s*(?:ENV\s+)?{VARIABLE}=(\S+?)\s*\\?$", FINAL_STAGE, re.M)
    assert match, f"the image sets no {VARIABLE}"
    return match[1]


def image_user() -> str:
    (user,) = re.findall(r"^USER (\S+)$", FINAL_STAGE, re.M)
    return user


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return render()


def test_the_variable_reaches_the_flag_and_the_command_line_wins(monkeypatch, tmp_path):
    monkeypatch.setenv(VARIABLE, str(tmp_path))
    assert cli.parse_args(["--demo"]).storage_path == tmp_path
    other = tmp_path / "other"
    assert cli.parse_args(["--demo", f"--storage.path={other}"]).storage_path == other
    monkeypatch.setenv(VARIABLE, "")
    assert cli.parse_args(["--demo"]).storage_path is None  # "" turns it off


def test_the_image_keeps_state_in_a_volume_owned_by_its_user():
    storage = image_storage_dir()
    assert storage == "/var/lib/bybit-exporter"
    assert re.search(rf'^VOLUME \["{storage}"\]$', FINAL_STAGE, re.M)
    # made in the build stage, private, and copied in owned by the USER the image runs as
    assert re.search(rf"install -d -m 0700 {storage}$", BUILD_STAGE, re.M)
    assert f"COPY --from=build --chown={image_user()} {storage} {storage}" in FINAL_STAGE
    assert FINAL_STAGE.index("VOLUME") > FINAL_STAGE.index(f"--chown={image_user()} {storage}")
    instructions = [line for line in FINAL_STAGE.splitlines() if not line.startswith("#")]
    assert not any("--storage.path" in line for line in instructions)  # once: the variable


def test_each_shard_keeps_its_volume_under_a_read_only_root(objects):
    statefulset, box, pod = one(objects, "StatefulSet"), container(objects), pod_spec(objects)
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    (mount,) = [m for m in box["volumeMounts"] if m["name"] == claim["metadata"]["name"]]
    assert mount["mountPath"] == image_storage_dir() and not mount.get("readOnly")
    assert claim["metadata"]["name"] not in {v["name"] for v in pod["volumes"]}  # the claim's
    # kept on scale-down and delete (Kubernetes' default): a shard that returns finds its totals
    policy = statefulset["spec"].get("persistentVolumeClaimRetentionPolicy", {})
    assert set(policy.values()) <= {"Retain"}
    # writable through fsGroup by the image's user; the rest of the root stays read-only
    uid, gid = image_user().split(":")
    context = pod["securityContext"]
    assert (str(context["runAsUser"]), str(context["fsGroup"])) == (uid, gid)
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    assert not any("--storage.path" in arg for arg in box["args"])  # the image's, once


def test_the_systemd_unit_keeps_state_in_its_state_directory():
    settings = unit_settings()
    (directory,) = settings["StateDirectory"]
    assert directory == "bybit-exporter" and settings["StateDirectoryMode"] == ["0700"]
    assert f"{VARIABLE}=%S/{directory}" in settings["Environment"]  # %S: /var/lib
    assert settings["DynamicUser"] == ["yes"] and settings["ProtectSystem"] == ["strict"]
    assert settings["UMask"] == ["0077"]


def exposure(unit: Path) -> str:
    result = run(systemd_analyze(), "security", "--offline=yes", "--no-pager", str(unit))
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+ \w+)", result.stdout)
    assert match, result.stdout[-500:]
    return match[1]


def test_the_state_directory_keeps_the_unit_clean_and_its_exposure(tmp_path):
    stub = tmp_path / "bybit-exporter"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    text = UNIT.read_text()
    (program,) = [value.split()[0] for value in unit_settings()["ExecStart"]]
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(program, str(stub)))
    result = run(systemd_analyze(), "verify", "--man=no", str(copy))
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), \
        result.stdout + result.stderr
    stateless = tmp_path / "stateless" / UNIT.name
    stateless.parent.mkdir()
    stateless.write_text(re.sub(r"^(StateDirectory\w*|Environment)=.*\n", "", text, flags=re.M))
    assert not re.search(r"^(StateDirectory|Environment)", stateless.read_text(), re.M)
    assert exposure(UNIT) == exposure(stateless) == "1.1 OK"
