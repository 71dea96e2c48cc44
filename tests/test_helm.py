"""deploy/helm/bybit-exporter: the Helm chart, linted and rendered by the real helm 4 of the test
extras (tests/kube_layer.py) with its defaults and every ci/*-values.yaml scenario, checked like
the kustomize base (Kubernetes' schemas, checkov), shown to render the same workload as that
base, and its helm test pod run against a real exporter. No cluster."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
import yaml

import exporter
from tests.conftest import free_port, wait_for
from tests.test_deploy import (ALERTS, CRDS, K8S_VERSION, KUBE, NAME, REPO, RULES,
                               checkov_failures, config_check, layer_tool, missing, one,
                               pod_spec, render, run, selects, unexplained_skips)

CHART = REPO / "deploy" / "helm" / "bybit-exporter"
VERSIONS = CHART.parent / "chart-versions.txt"
SCENARIOS = {path.name.removesuffix("-values.yaml"): path
             for path in sorted((CHART / "ci").glob("*-values.yaml"))}
RELEASE, NAMESPACE = "bybit", "monitoring"
SECRETS_DIR = "/etc/bybit-exporter/secrets"

Helm = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def helm(tmp_path_factory) -> Helm:
    binary = layer_tool("helm")
    home = tmp_path_factory.mktemp("helm-home")  # helm's cache and config, not the user's
    env = {**os.environ, **{f"HELM_{kind}_HOME": str(home / kind.lower())
                            for kind in ("CACHE", "CONFIG", "DATA")},
           "KUBECONFIG": str(home / "no-cluster")}  # never the user's cluster

    def call(*args: str) -> subprocess.CompletedProcess:
        return run(binary, *args, env=env)

    return call


def template(helm: Helm, *args: str) -> list[dict]:
    result = helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def values_file(folder: Path, values: dict) -> str:
    path = folder / f"values-{len(list(folder.glob('values-*')))}.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


@pytest.fixture(scope="module")
def rendered(helm) -> dict[str, list[dict]]:
    """Scenario name ("defaults" or a ci/ file's) -> the objects `helm template` renders."""
    scenarios = {"defaults": template(helm)}
    for name, path in SCENARIOS.items():
        scenarios[name] = template(helm, "-f", str(path))
    return scenarios


def merged(defaults: dict, given: dict) -> dict:
    """Values as helm merges them: mappings key by key, anything else replaced."""
    both = dict(defaults)
    for key, value in given.items():
        both[key] = (merged(both[key], value)
                     if isinstance(value, dict) and isinstance(both.get(key), dict) else value)
    return both


def scenario_values(name: str) -> dict:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    if name == "defaults":
        return defaults
    return merged(defaults, yaml.safe_load(SCENARIOS[name].read_text()))


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] == kind]


def workload(objects: list[dict]) -> dict:
    """The StatefulSet of exporters (not the helm test pod)."""
    return one(objects, "StatefulSet")


def exporter_container(objects: list[dict]) -> dict:
    (container,) = [c for c in pod_spec(objects)["containers"] if c["name"] == "exporter"]
    return container


def helm_test_pod(objects: list[dict]) -> dict:
    (pod,) = [p for p in of_kind(objects, "Pod")
              if p["metadata"]["annotations"].get("helm.sh/hook") == "test"]
    return pod


# --- lint, schemas, checkov ---------------------------------------------------------------

def test_the_scenarios_of_the_issue_are_all_there():
    assert {"shards", "existing-secret", "monitors", "tls", "inline-keys"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", ["defaults", *SCENARIOS])
def test_chart_lints_strict(helm, scenario):
    values = ["-f", str(SCENARIOS[scenario])] if scenario in SCENARIOS else []
    result = helm("lint", "--strict", str(CHART), "--namespace", NAMESPACE, *values)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


def test_every_scenario_validates_against_the_kubernetes_schema(rendered):
    try:
        import kubernetes_validate
    except ImportError:
        missing("kubernetes-validate", "pip install the test extras (kubernetes-validate)")
    for scenario, objects in rendered.items():
        for obj in objects:
            if obj["kind"] not in CRDS:  # prometheus-operator's: test_prometheus_operator_objects
                try:
                    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
                except kubernetes_validate.ValidationError as exc:
                    pytest.fail(f"{scenario}: {obj['kind']}/{obj['metadata']['name']}: {exc}")
            assert obj["metadata"]["namespace"] == NAMESPACE, (scenario, obj["kind"])


def test_checkov_finds_nothing_unexplained_in_any_scenario(rendered, tmp_path):
    # Skips are annotations on the objects they concern, each with its reason; the chart
    # renders them only while they apply (no CKV_K8S_43 skip once image.digest is set).
    for scenario, objects in rendered.items():
        (tmp_path / f"{scenario}.yaml").write_text(yaml.safe_dump_all(objects))
        assert not unexplained_skips(objects), scenario
    failed, summary = checkov_failures(tmp_path)
    assert not failed and summary["parsing_errors"] == 0, failed
    assert summary["passed"] > 50 * len(rendered), summary
    pinned = workload(rendered["escape-hatches"])["metadata"].get("annotations", {})
    assert not any("CKV_K8S_43" in value or "CKV_K8S_15" in value for value in pinned.values())


# --- what users rely on ---------------------------------------------------------------------

def shard_flags(objects: list[dict]) -> tuple[int, list[str]]:
    args = exporter_container(objects)["args"]
    flags = [arg for arg in args if re.match(r"--(shard|total-shards)\b", arg)]
    return workload(objects)["spec"]["replicas"], flags


@pytest.mark.parametrize("shards", [1, 4, 7])
def test_shard_flags_equal_the_replica_count(helm, shards, tmp_path):
    objects = template(helm, "-f", values_file(tmp_path, {"shards": shards}))
    assert shard_flags(objects) == (shards, ["--shard.from-hostname", f"--total-shards={shards}"])
    # the helm test asks every shard's pod, by the name the StatefulSet gives it
    statefulset, service = workload(objects), one(objects, "Service")
    name, port = statefulset["metadata"]["name"], exporter_container(objects)["ports"][0]
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    assert helm_test_pod(objects)["spec"]["containers"][0]["args"] == [
        f"http://{name}-{n}.{service['metadata']['name']}.{NAMESPACE}.svc:{port['containerPort']}"
        for n in range(shards)]


def test_every_scenario_gives_the_shard_flags_once(rendered):
    for scenario, objects in rendered.items():
        replicas, flags = shard_flags(objects)
        assert replicas == scenario_values(scenario)["shards"], scenario
        assert flags == ["--shard.from-hostname", f"--total-shards={replicas}"], scenario


def secret_volume(objects: list[dict]) -> tuple[dict, dict]:
    """The volume mounted at the folder the config's key files are in, and its mount."""
    pod = pod_spec(objects)
    (mount,) = [m for m in exporter_container(objects)["volumeMounts"]
                if m["mountPath"] == SECRETS_DIR]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    return volume, mount


def key_files(objects: list[dict]) -> set[str]:
    """The file names the ConfigMap's config reads from the Secret's folder."""
    config = yaml.safe_load(one(objects, "ConfigMap")["data"]["config.yaml"])
    names = set()
    for account in config["accounts"]:
        for key in ("api_key_file", "api_secret_file", "rsa_private_key_file"):
            if key in account:
                path = Path(account[key])
                assert str(path.parent) == SECRETS_DIR, account
                names.add(path.name)
    return names


def test_existing_secret_is_what_the_pod_mounts_and_no_secret_is_rendered(rendered):
    objects = rendered["existing-secret"]
    assert of_kind(objects, "Secret") == []
    volume, mount = secret_volume(objects)
    assert volume["secret"]["secretName"] == scenario_values("existing-secret")["existingSecret"]
    assert volume["secret"]["defaultMode"] == 0o440 and mount["readOnly"] is True
    box = exporter_container(objects)
    assert "envFrom" not in box and "env" not in box, "no key may reach the environment"


def test_without_inline_keys_the_chart_renders_no_secret(rendered):
    for scenario, objects in rendered.items():
        if not scenario_values(scenario)["inlineCredentials"]:
            assert of_kind(objects, "Secret") == [], scenario
            name = scenario_values(scenario)["existingSecret"] or f"{RELEASE}-{NAME}-credentials"
            assert secret_volume(objects)[0]["secret"]["secretName"] == name, scenario


def test_inline_keys_become_the_secret_the_pod_mounts(rendered):
    objects, values = rendered["inline-keys"], scenario_values("inline-keys")
    secret = one(objects, "Secret")
    assert secret_volume(objects)[0]["secret"]["secretName"] == secret["metadata"]["name"]
    assert {name: base64.b64decode(value).decode() for name, value in secret["data"].items()} \
        == values["inlineCredentials"]
    assert set(secret["data"]) == key_files(objects)
    annotations = workload(objects)["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/credentials" in annotations  # a changed key rolls the pods


def test_the_prometheus_rule_is_the_repositorys_rules(rendered):
    repository = [group for path in (ALERTS, RULES)
                  for group in yaml.safe_load(path.read_text())["groups"]]
    assert repository, "no rule groups in prometheus/"
    rule = one(rendered["monitors"], "PrometheusRule")
    assert rule["spec"] == {"groups": repository}
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # mixin.build writes the chart's copy beside alerts.yml and rules.yml, and checks it
    result = run(sys.executable, "-m", "mixin.build", "--check", cwd=REPO)
    assert result.returncode == 0, result.stderr


def test_prometheus_operator_objects(rendered):
    assert not [obj for obj in rendered["defaults"] if obj["kind"] in CRDS], "off by default"
    for scenario in ("monitors", "tls"):
        objects = rendered[scenario]
        monitor, service = one(objects, "ServiceMonitor"), one(objects, "Service")
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
        settings = scenario_values(scenario)["serviceMonitor"]
        for key in ("interval", "scrapeTimeout", "relabelings", "metricRelabelings", "tlsConfig",
                    "basicAuth"):
            assert endpoint.get(key) == (settings[key] or None), (scenario, key)
        assert monitor["metadata"]["labels"].items() >= settings["labels"].items()
    assert one(rendered["tls"], "ServiceMonitor")["spec"]["endpoints"][0]["scheme"] == "https"


def test_tls_web_config_reaches_the_flag_the_probes_and_the_monitor(rendered):
    objects, values = rendered["tls"], scenario_values("tls")["webConfig"]
    box = exporter_container(objects)
    (flag,) = [arg for arg in box["args"] if arg.startswith("--web.config.file=")]
    path = Path(flag.split("=", 1)[1])
    (mount,) = [m for m in box["volumeMounts"] if m["mountPath"] == str(path.parent)]
    (volume,) = [v for v in pod_spec(objects)["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == values["existingSecret"]
    assert path.name == values["file"] and "subPath" not in mount  # so a renewal is seen
    for probe in ("livenessProbe", "readinessProbe"):
        assert box[probe]["httpGet"]["scheme"] == "HTTPS", probe
    assert all(url.startswith("https://")
               for url in helm_test_pod(objects)["spec"]["containers"][0]["args"][1:])
    assert not any(arg.startswith("--web.config.file") for arg in
                   exporter_container(rendered["defaults"])["args"])


def test_persistence_claims_a_volume_per_shard_or_takes_an_empty_dir(rendered):
    shards = rendered["shards"]
    (claim,) = workload(shards)["spec"]["volumeClaimTemplates"]
    settings = scenario_values("shards")["persistence"]
    assert claim["spec"]["resources"]["requests"]["storage"] == settings["size"]
    assert claim["spec"]["storageClassName"] == settings["storageClass"]
    state = {m["name"]: m for m in exporter_container(shards)["volumeMounts"]}["state"]
    assert claim["metadata"]["name"] == "state" and not state.get("readOnly")
    off = rendered["inline-keys"]
    assert "volumeClaimTemplates" not in workload(off)["spec"]
    (empty,) = [v for v in pod_spec(off)["volumes"] if v["name"] == "state"]
    assert empty == {"name": "state", "emptyDir": {"sizeLimit": "1Gi"}}


def test_escape_hatches_reach_the_pod(rendered):
    objects, values = rendered["escape-hatches"], scenario_values("escape-hatches")
    pod = workload(objects)["spec"]["template"]
    spec, box = pod["spec"], exporter_container(objects)
    assert box["image"] == "{repository}:{tag}@{digest}".format(**values["image"])
    assert box["args"][-len(values["extraArgs"]):] == values["extraArgs"]
    assert box["env"] == values["extraEnv"]
    assert all(mount in box["volumeMounts"] for mount in values["extraVolumeMounts"])
    assert all(volume in spec["volumes"] for volume in values["extraVolumes"])
    assert spec["containers"][1:] == values["extraContainers"]
    assert pod["metadata"]["annotations"].items() >= values["podAnnotations"].items()
    assert pod["metadata"]["labels"].items() >= values["podLabels"].items()
    for key in ("nodeSelector", "tolerations", "affinity", "topologySpreadConstraints",
                "priorityClassName", "imagePullSecrets"):
        assert spec[key] == values[key], key
    assert spec["serviceAccountName"] == values["serviceAccount"]["name"]


def test_the_configmap_config_passes_the_exporters_config_check(rendered, tmp_path):
    for scenario, objects in rendered.items():
        text = one(objects, "ConfigMap")["data"]["config.yaml"]
        assert yaml.safe_load(text) == scenario_values(scenario)["config"], scenario
        folder = tmp_path / scenario
        folder.mkdir()
        result = config_check(text, folder)
        assert result.returncode == 0, f"{scenario}: {result.stderr}"


def test_a_changed_config_rolls_the_pods(helm, tmp_path):
    def checksum(values: dict) -> str:
        objects = template(helm, "-f", values_file(tmp_path, values))
        return workload(objects)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum({}) != checksum({"config": {**scenario_values("defaults")["config"],
                                                "poll_interval": "60s"}})
    assert checksum({}) == checksum({"shards": 3})


def test_pods_meet_the_restricted_profile_in_every_scenario(rendered):
    for scenario, objects in rendered.items():
        for spec in (pod_spec(objects), helm_test_pod(objects)["spec"]):
            assert spec["securityContext"]["runAsNonRoot"] is True, scenario
            assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            assert spec["automountServiceAccountToken"] is False
            for box in spec["containers"]:
                context = box["securityContext"]
                assert context["allowPrivilegeEscalation"] is False, (scenario, box["name"])
                assert context["readOnlyRootFilesystem"] is True
                assert context["capabilities"] == {"drop": ["ALL"]}


def test_selectors_pick_the_exporters_and_never_the_test_pod(rendered):
    objects = rendered["monitors"]
    pod_labels = workload(objects)["spec"]["template"]["metadata"]["labels"]
    test_labels = helm_test_pod(objects)["metadata"]["labels"]
    for selector in (workload(objects)["spec"]["selector"]["matchLabels"],
                     one(objects, "Service")["spec"]["selector"],
                     one(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
                     one(objects, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"]):
        assert selects(selector, pod_labels) and not selects(selector, test_labels)
    # with ingress narrowed to Prometheus' namespace, the test pod may still ask
    (ingress,) = one(objects, "NetworkPolicy")["spec"]["ingress"]
    assert any(selects(peer["podSelector"]["matchLabels"], test_labels)
               for peer in ingress["from"] if "podSelector" in peer)


def notes(helm: Helm, *args: str) -> str:
    """NOTES.txt as `helm install` prints it (a client-side dry run: no cluster)."""
    result = helm("install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client",
                  *args)
    assert result.returncode == 0, result.stderr
    return result.stdout[result.stdout.index("NOTES:"):]


def test_notes_say_how_to_make_the_secret_and_reach_the_pods(helm, rendered):
    text = notes(helm, "-f", str(SCENARIOS["shards"]))
    secret = secret_volume(rendered["shards"])[0]["secret"]["secretName"]
    command = re.search(rf"kubectl -n {NAMESPACE} create secret generic {secret}((?: \\\n\s+"
                        rf"--from-file=\S+)+)", text)
    assert command, text
    files = re.findall(r"--from-file=([^=\s]+)=\./\1", command[1])
    assert set(files) == key_files(rendered["shards"])
    assert f"port-forward pod/{RELEASE}-{NAME}-0 10788" in text
    assert "http://127.0.0.1:10788/metrics" in text and "--total-shards" in text
    assert "emptyDir" not in text


def test_notes_warn_that_totals_restart_without_persistence(helm):
    text = notes(helm, "-f", str(SCENARIOS["inline-keys"]))
    assert "start again from zero whenever a pod is replaced" in text
    assert "create secret" not in text and "existingSecret" in text
    assert "https://" in notes(helm, "-f", str(SCENARIOS["tls"]))


# --- the schema -----------------------------------------------------------------------------

REFUSED = {
    "shards: four": ({"shards": "four"}, "/shards"),
    "shards: 0": ({"shards": 0}, "/shards"),
    "shards: -2": ({"shards": -2}, "/shards"),
    "shards: 1.5": ({"shards": 1.5}, "/shards"),
    "a misspelt key": ({"shard": 4}, "'shard' not allowed"),
    "shard flags in extraArgs": ({"extraArgs": ["--total-shards=3"]}, "/extraArgs/0"),
    "a key in the ConfigMap": ({"config": {"accounts": [{"name": "a", "api_key": "AbC123",
                                                         "api_secret": "${S}"}]}},
                               "/config/accounts/0/api_key"),
    "a config without accounts": ({"config": {"accounts": []}}, "/config/accounts"),
    "both Secrets": ({"existingSecret": "keys", "inlineCredentials": {"main_key": "x"}},
                     "/inlineCredentials"),
    "TLS without its Secret": ({"webConfig": {"tls": True}}, "/webConfig/existingSecret"),
    "a tag as digest": ({"image": {"digest": "latest"}}, "/image/digest"),
    "a size that is no quantity": ({"persistence": {"size": "lots"}}, "/persistence/size"),
    "an interval that is no duration": ({"serviceMonitor": {"interval": "often"}},
                                        "/serviceMonitor/interval"),
    "half a basicAuth": ({"serviceMonitor": {"basicAuth": {"username": {"name": "s", "key": "u"}}}},
                         "/serviceMonitor/basicAuth"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_the_schema_refuses(helm, tmp_path, case):
    values, where = REFUSED[case]
    result = helm("template", RELEASE, str(CHART), "-f", values_file(tmp_path, values))
    assert result.returncode != 0 and "schema" in result.stderr, result.stdout[-300:]
    assert where in result.stderr, result.stderr


def test_the_schema_lets_through_what_is_right(helm, tmp_path):
    values = {"shards": 12, "extraArgs": ["--log.level=debug", "--shards-note"],
              "config": {"accounts": [{"name": "a", "api_key": "${KEY}", "api_secret": "${S}"}]},
              "podDisruptionBudget": {"maxUnavailable": "25%"},
              "persistence": {"size": "500Mi"}, "serviceMonitor": {"interval": "1m30s"}}
    assert template(helm, "-f", values_file(tmp_path, values))


def uncommented_values(text: str) -> list[str]:
    """Keys of values.yaml with no comment of their own: a key needs the comment line above
    it, unless it is part of a commented value's default (config's accounts, resources'
    requests) or a group of commented keys (image: repository, tag, ...)."""
    lines = text.splitlines()
    keys = [(len(m[1]), m[2], index > 0 and lines[index - 1].lstrip().startswith("#"))
            for index, line in enumerate(lines) if (m := re.match(r"^( *)([A-Za-z]\w*):", line))]

    def ancestors(position: int) -> list[tuple[int, str, bool]]:
        found, indent = [], keys[position][0]
        for key in reversed(keys[:position]):
            if key[0] < indent:
                found.append(key)
                indent = key[0]
        return found

    def children(position: int) -> list[tuple[int, str, bool]]:
        below = []
        for key in keys[position + 1:]:
            if key[0] <= keys[position][0]:
                break
            below.append(key)
        return [key for key in below if key[0] == min((k[0] for k in below), default=0)]

    return [name for position, (_, name, commented) in enumerate(keys)
            if not (commented or any(a[2] for a in ancestors(position))
                    or (children(position) and all(c[2] for c in children(position))))]


def test_every_value_is_commented_and_in_the_schema():
    text = (CHART / "values.yaml").read_text()
    assert uncommented_values(text) == []
    assert uncommented_values("a: 1\n# -- b\nb: {c: 1}\n") == ["a"]  # the check can fail
    schema = json.loads((CHART / "values.schema.json").read_text())

    def closed_keys_differ(values: dict, node: dict, where: str) -> list[str]:
        if node.get("additionalProperties") is not False:
            return []
        declared = set(node["properties"]) - {"global"}
        differ = [f"{where}: {sorted(declared ^ set(values))}"] if declared != set(values) else []
        return differ + [problem for key, value in values.items() if isinstance(value, dict)
                         for problem in closed_keys_differ(value, node["properties"].get(key, {}),
                                                           f"{where}.{key}")]

    assert closed_keys_differ(yaml.safe_load(text), schema, "values") == []


# --- one source: the kustomize base and the chart ----------------------------------------------

def base_equivalent_values() -> dict:
    """Chart values for what the kustomize base deploys: its names, config, Secret, and the
    objects it turns on. Everything else is the chart's defaults, compared with the base."""
    secret = yaml.safe_load((KUBE / "secret.example.yaml").read_text())
    release_label = {"release": "kube-prometheus-stack"}
    return {"fullnameOverride": NAME,
            "config": yaml.safe_load((KUBE / "config.yaml").read_text()),
            "existingSecret": secret["metadata"]["name"],
            "networkPolicy": {"enabled": True},
            "serviceMonitor": {"enabled": True, "labels": release_label},
            "prometheusRule": {"enabled": True, "labels": release_label}}


def deployed(objects: list[dict]) -> dict:
    """What runs and how it is reached, without what only names or labels things: the
    selectors (checked to select the pods instead), the ConfigMap's name (the base's has a hash
    of its content; the chart's pods roll by an annotation) and the helm test pod."""
    by_kind = {obj["kind"]: obj for obj in objects
               if obj["kind"] not in {"Namespace", "Pod"}}
    statefulset = by_kind["StatefulSet"]
    pod = statefulset["spec"]["template"]
    for selector in (statefulset["spec"]["selector"]["matchLabels"],
                     by_kind["Service"]["spec"]["selector"],
                     by_kind["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
                     by_kind["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"]):
        assert selects(selector, pod["metadata"]["labels"])
    assert selects(by_kind["ServiceMonitor"]["spec"]["selector"]["matchLabels"],
                   by_kind["Service"]["metadata"]["labels"])
    configmap = by_kind["ConfigMap"]["metadata"]["name"]
    volumes = [{**v, "configMap": {**v["configMap"], "name": "<config>"}}
               if v.get("configMap", {}).get("name") == configmap else v
               for v in pod["spec"]["volumes"]]
    claims = [{"name": claim["metadata"]["name"], **claim["spec"]}
              for claim in statefulset["spec"].get("volumeClaimTemplates", [])]
    strip = {"Service": "selector", "PodDisruptionBudget": "selector",
             "NetworkPolicy": "podSelector", "ServiceMonitor": "selector"}
    return {
        "kinds": sorted(by_kind),
        "statefulset": {**{k: v for k, v in statefulset["spec"].items()
                           if k not in {"selector", "template", "volumeClaimTemplates"}},
                        "pod": {**pod["spec"], "volumes": volumes}, "claims": claims},
        **{kind: {k: v for k, v in by_kind[kind]["spec"].items() if k != strip.get(kind)}
           for kind in ("Service", "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor",
                        "PrometheusRule")},
        "release labels": {kind: by_kind[kind]["metadata"]["labels"].get("release")
                           for kind in ("ServiceMonitor", "PrometheusRule")},
        "service account": {k: v for k, v in by_kind["ServiceAccount"].items()
                            if k not in {"metadata"}},
        "config": yaml.safe_load(by_kind["ConfigMap"]["data"]["config.yaml"]),
    }


def test_the_chart_and_the_kustomize_base_deploy_the_same(helm, tmp_path):
    chart = template(helm, "-f", values_file(tmp_path, base_equivalent_values()))
    assert deployed(chart) == deployed(render())


def test_the_comparison_sees_a_difference(helm, tmp_path):
    values = base_equivalent_values()
    for changed in ({"resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                                   "limits": {"memory": "256Mi"}}},
                    {"extraArgs": ["--log.level=debug"]}, {"shards": 2},
                    {"persistence": {"size": "2Gi"}}):
        chart = template(helm, "-f", values_file(tmp_path, {**values, **changed}))
        assert deployed(chart) != deployed(render()), changed


# --- versions -------------------------------------------------------------------------------

def chart_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in CHART.rglob("*") if p.is_file()):
        content = path.read_bytes()
        digest.update(f"{path.relative_to(CHART).as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
    return "sha256:" + digest.hexdigest()


def semver(version: str) -> tuple[int, ...]:
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    return tuple(int(part) for part in version.split("."))


def test_app_version_is_the_exporters_version_and_the_default_tag(rendered):
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == exporter.__version__
    image = exporter_container(rendered["defaults"])["image"]
    assert image == f"bybit-exporter:{exporter.__version__}"


def test_every_change_to_the_chart_has_a_new_version():
    version = yaml.safe_load((CHART / "Chart.yaml").read_text())["version"]
    records = [line.split() for line in VERSIONS.read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    versions = [semver(recorded) for recorded, _ in records]
    assert versions == sorted(set(versions)), "each version once, in order"
    assert len({digest for _, digest in records}) == len(records), "a digest for each version"
    latest, recorded_digest = records[-1]
    expected = f"{version} {chart_digest()}"
    assert latest == version, (
        f"Chart.yaml says {version}, {VERSIONS.name} ends at {latest}: append `{expected}`")
    assert recorded_digest == chart_digest(), (
        f"the chart's files changed since {version} was recorded: bump `version` in "
        f"Chart.yaml (see the chart's README, Version policy), run this test again and append "
        f"the line it then gives to {VERSIONS.name}. The digest now: {chart_digest()}")


# --- the helm test pod, against a real exporter ------------------------------------------------

def helm_test_command(objects: list[dict], *, port: int, scheme: str = "http",
                      credentials: Path | None = None) -> list[str]:
    """The test pod's command, its URLs pointed at a local exporter on `port`."""
    (box,) = helm_test_pod(objects)["spec"]["containers"]
    assert box["command"][:2] == ["python3", "-c"]
    args = []
    for arg in box["args"]:
        if arg.startswith("--credentials="):
            args.append(f"--credentials={credentials}")
        else:
            assert arg.startswith(f"{scheme}://"), arg
            args.append(f"{scheme}://127.0.0.1:{port}")
    return [sys.executable, "-c", box["command"][2], *args]


def test_the_helm_test_pod_passes_against_a_serving_exporter(rendered, exporter_process):
    process = exporter_process(["--demo"])
    process.wait_ready(timeout=30)
    command = helm_test_command(rendered["defaults"], port=process.port)
    result = run(*command)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok   http") == 2, result.stdout


def test_the_helm_test_pod_fails_against_no_exporter(rendered):
    result = run(*helm_test_command(rendered["defaults"], port=free_port()))
    assert result.returncode == 1 and "FAIL" in result.stdout, result.stdout + result.stderr


def test_the_helm_test_pod_sends_the_monitors_credentials_over_tls(rendered, exporter_process,
                                                                   tmp_path):
    import bcrypt

    from tests.certs import make_pki

    pki = make_pki(tmp_path)
    password = "scrape-pass-123"
    web = tmp_path / "web-config.yml"
    web.write_text(yaml.safe_dump({
        "tls_server_config": {"cert_file": str(pki["server.crt"]),
                              "key_file": str(pki["server.key"])},
        "basic_auth_users": {"prometheus": bcrypt.hashpw(password.encode(),
                                                         bcrypt.gensalt(4)).decode()}}))
    process = exporter_process(["--demo", f"--web.config.file={web}"])
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "username").write_text("prometheus\n")
    (credentials / "password").write_text("wrong\n")
    command = helm_test_command(rendered["tls"], port=process.port, scheme="https",
                                credentials=credentials)
    wait_for(lambda: "ok   https" in run(*command).stdout, timeout=30)  # /-/ready is open
    refused = run(*command)
    assert refused.returncode == 1 and "/metrics: 401" in refused.stdout, refused.stdout
    (credentials / "password").write_text(password + "\n")
    accepted = run(*command)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
