"""--web.config.file: TLS, client certificates and basic auth, down to a real Prometheus."""

import base64
import socket
import ssl
import textwrap
import time

import bcrypt
import pytest
import requests

from exporter.web import webconfig
from exporter.config import ConfigError
from tests.certs import make_pki
from tests.conftest import parse_samples, sample, unified_account, wait_for
from tests.prom import Prometheus

PASSWORD = "scrape-pass-123"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    paths = make_pki(folder)
    paths["hash"] = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    return paths


def write(folder, text):
    path = folder / "web.yml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def problems(folder, text):
    with pytest.raises(ConfigError) as caught:
        webconfig.load(write(folder, text))
    return caught.value.problems


def test_web_config_refusals_name_the_field(tmp_path, pki):
    found = problems(tmp_path, f"""
        tls_server_config:
          cert_file: {pki['server.crt']}
          key_file: {pki['server.key']}
          client_auth_type: RequireAnyClientCert
          cipher_suites: [x]
        basic_auth_users:
          alice: plaintext-password
        http_server_config: {{}}
    """)
    assert found == [
        "web.config.file: http_server_config: unknown key (allowed: basic_auth_users, "
        "tls_server_config)",
        "web.config.file: basic_auth_users.alice: not a bcrypt hash (make one with: "
        "htpasswd -nBC 10 '' | tr -d ':')",
        "web.config.file: tls_server_config.cipher_suites: unknown or unsupported key (allowed: "
        "cert_file, client_auth_type, client_ca_file, key_file, max_version, min_version)",
        "web.config.file: tls_server_config.client_auth_type: must be one of NoClientCert, "
        "VerifyClientCertIfGiven, RequireAndVerifyClientCert",
    ]
    missing = problems(tmp_path, "tls_server_config: {cert_file: nope.crt, key_file: nope.key}")
    assert missing[0].startswith("web.config.file: tls_server_config: cannot load cert_file")
    assert "plaintext-password" not in "".join(found)


def test_basic_auth_checks_bcrypt_and_remembers_successes(pki):
    web = webconfig.WebConfig(users={"prom": pki["hash"].encode()})

    def header(user, password):
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    assert web.authorized(header("prom", PASSWORD))
    assert not web.authorized(header("prom", "wrong"))
    assert not web.authorized(header("nobody", PASSWORD))
    assert not web.authorized(None) and not web.authorized("Basic !!!") and not web.authorized("Bearer x")
    started = time.perf_counter()
    for _ in range(100):
        assert web.authorized(header("prom", PASSWORD))
    assert len(web._verified) == 1
    assert time.perf_counter() - started < 0.5  # remembered: not 100 bcrypt runs


@pytest.fixture
def secured(simulator, tmp_path, exporter_process, pki):
    sim = simulator([unified_account("K1", "S1")])
    config = tmp_path / "config.yaml"
    config.write_text(f"accounts: [{{name: a, api_key: K1, api_secret: S1, endpoint: '{sim.url}'}}]\n")

    def start(client_certs: bool):
        tls = f"""
            tls_server_config:
              cert_file: {pki['server.crt']}
              key_file: {pki['server.key']}
        """ + (f"      client_ca_file: {pki['ca.crt']}\n" if client_certs else "")
        web = write(tmp_path, tls + f"""
            basic_auth_users:
              prometheus: {pki['hash']}
        """)
        exporter = exporter_process(["--config.file", str(config), "--web.config.file", web])
        exporter.url = exporter.url.replace("http://", "https://")
        return exporter

    return start


def test_https_with_basic_auth(secured, pki):
    exporter = secured(client_certs=False)
    ca = str(pki["ca.crt"])
    wait_for(lambda: requests.get(exporter.url + "/-/healthy", verify=ca, timeout=2).ok)
    for path in ("/metrics", "/", "/-/reload"):
        method = requests.post if path == "/-/reload" else requests.get
        assert method(exporter.url + path, verify=ca, timeout=5).status_code == 401, path
        assert method(exporter.url + path, verify=ca, auth=("prometheus", "wrong"),
                      timeout=5).status_code == 401, path
    answer = requests.get(exporter.url + "/metrics", verify=ca, auth=("prometheus", PASSWORD),
                          timeout=5)
    assert answer.status_code == 200 and "bybit_up" in answer.text
    assert requests.get(exporter.url + "/-/ready", verify=ca, timeout=5).status_code in (200, 503)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(exporter.url.replace("https://", "http://") + "/metrics", timeout=5)


def test_client_certificate_required_when_a_client_ca_is_set(secured, pki):
    exporter = secured(client_certs=True)
    ca = str(pki["ca.crt"])
    client = (str(pki["client.crt"]), str(pki["client.key"]))
    auth = ("prometheus", PASSWORD)
    wait_for(lambda: requests.get(exporter.url + "/-/healthy", verify=ca, cert=client,
                                  timeout=2).ok)
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        requests.get(exporter.url + "/metrics", verify=ca, auth=auth, timeout=5)
    assert requests.get(exporter.url + "/metrics", verify=ca, cert=client, auth=auth,
                        timeout=5).status_code == 200
    with pytest.raises(ssl.SSLError):  # a plain TLS client without a certificate
        context = ssl.create_default_context(cafile=ca)
        with socket.create_connection(("127.0.0.1", int(exporter.url.rsplit(":", 1)[1]))) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                tls.recv(100)


def test_real_prometheus_scrapes_over_https_with_basic_auth(secured, pki, tmp_path):
    exporter = secured(client_certs=False)
    target = exporter.url.split("://", 1)[1]
    prometheus = Prometheus(tmp_path, textwrap.dedent(f"""
        global: {{scrape_interval: 1s, scrape_timeout: 1s}}
        scrape_configs:
          - job_name: good
            scheme: https
            tls_config: {{ca_file: {pki['ca.crt']}}}
            basic_auth: {{username: prometheus, password: {PASSWORD}}}
            static_configs: [{{targets: ['{target}']}}]
          - job_name: wrong-password
            scheme: https
            tls_config: {{ca_file: {pki['ca.crt']}}}
            basic_auth: {{username: prometheus, password: not-it}}
            static_configs: [{{targets: ['{target}']}}]
    """))
    try:
        wait_for(lambda: prometheus.query('bybit_up{job="good",account="a"} == 1'), timeout=30)
        wait_for(lambda: prometheus.query('up{job="wrong-password"} == 0'), timeout=30)
        assert prometheus.query('up{job="good"}')[0]["value"][1] == "1"
        assert prometheus.query('bybit_up{job="wrong-password"}') == []
        bad = [t for t in prometheus.targets() if t["labels"]["job"] == "wrong-password"][0]
        assert "401" in bad["lastError"]
    finally:
        prometheus.stop()


# -- a web config that changes under a running exporter ------------------------------------

OTHER_PASSWORD = "rotated-pass-456"


def served_certificate(url: str) -> bytes:
    """The certificate (DER) the exporter presents to a new connection."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)


def der(path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def replace(path, content: bytes) -> None:
    """As certbot and cert-manager do: a new file renamed over the old one."""
    fresh = path.with_name(path.name + ".new")
    fresh.write_bytes(content)
    fresh.replace(path)


@pytest.fixture
def rotating(simulator, tmp_path, exporter_process, pki):
    """An exporter over HTTPS whose certificate and key are copies in `live/`, for replacing."""
    sim = simulator([unified_account("K1", "S1")])
    config = tmp_path / "config.yaml"
    config.write_text(f"accounts: [{{name: a, api_key: K1, api_secret: S1, endpoint: '{sim.url}'}}]\n")
    live = tmp_path / "live"
    live.mkdir()
    for name in ("server.crt", "server.key"):
        (live / name).write_bytes(pki[name].read_bytes())
    web = write(tmp_path, f"""
        tls_server_config: {{cert_file: live/server.crt, key_file: live/server.key}}
        basic_auth_users: {{prometheus: '{pki['hash']}'}}
    """)
    exporter = exporter_process(["--config.file", str(config), "--web.config.file", web])
    exporter.url = exporter.url.replace("http://", "https://")
    wait_for(lambda: requests.get(exporter.url + "/-/healthy", verify=str(pki["ca.crt"]),
                                  timeout=2).ok)
    return exporter, live, tmp_path / "web.yml"


def web_reload_gauge(exporter, ca, auth=("prometheus", PASSWORD)) -> float | None:
    answer = requests.get(exporter.url + "/metrics", verify=str(ca), auth=auth, timeout=5)
    answer.raise_for_status()
    return sample(parse_samples(answer.text), "bybit_exporter_web_config_last_reload_successful")


def test_a_renewed_certificate_and_new_users_apply_without_restart(rotating, pki, tmp_path):
    exporter, live, web_file = rotating
    assert served_certificate(exporter.url) == der(pki["server.crt"])
    (tmp_path / "renewed").mkdir()
    renewed = make_pki(tmp_path / "renewed")
    replace(live / "server.key", renewed["server.key"].read_bytes())
    replace(live / "server.crt", renewed["server.crt"].read_bytes())
    # the next connections get the renewed certificate: no restart, no signal
    wait_for(lambda: served_certificate(exporter.url) == der(renewed["server.crt"]), timeout=10)
    assert wait_for(lambda: web_reload_gauge(exporter, renewed["ca.crt"]) == 1.0)
    with pytest.raises(requests.exceptions.SSLError):  # the old CA no longer vouches for it
        requests.get(exporter.url + "/-/healthy", verify=str(pki["ca.crt"]), timeout=5)

    # a changed user list: the new password works, the old one no longer does
    other_hash = bcrypt.hashpw(OTHER_PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    replace(web_file, web_file.read_text().replace(pki["hash"], other_hash).encode())
    wait_for(lambda: web_reload_gauge(exporter, renewed["ca.crt"],
                                      ("prometheus", OTHER_PASSWORD)) == 1.0, timeout=10)
    assert requests.get(exporter.url + "/metrics", verify=str(renewed["ca.crt"]),
                        auth=("prometheus", PASSWORD), timeout=5).status_code == 401
    assert exporter.proc.poll() is None
    exporter.stop()
    assert exporter.output.count("web config reloaded") >= 2


def test_an_invalid_new_web_config_keeps_the_previous_one(rotating, pki):
    exporter, live, web_file = rotating
    good = web_file.read_text()
    assert web_reload_gauge(exporter, pki["ca.crt"]) == 1.0
    replace(live / "server.key", b"-----BEGIN PRIVATE KEY-----\nnot a key\n")
    # refused: gauge 0, while the previous certificate and users stay in force
    assert wait_for(lambda: web_reload_gauge(exporter, pki["ca.crt"]) == 0.0, timeout=10)
    assert served_certificate(exporter.url) == der(pki["server.crt"])
    replace(web_file, b"tls_server_config: [not, a, mapping\n")  # not YAML either
    time.sleep(2.5)  # a few more looks at the files
    assert web_reload_gauge(exporter, pki["ca.crt"]) == 0.0
    assert served_certificate(exporter.url) == der(pki["server.crt"])
    # valid, but without TLS: no silent downgrade to plain HTTP
    replace(web_file, f"basic_auth_users: {{prometheus: '{pki['hash']}'}}\n".encode())
    time.sleep(2.5)
    assert web_reload_gauge(exporter, pki["ca.crt"]) == 0.0
    assert served_certificate(exporter.url) == der(pki["server.crt"])
    # repaired: in force again, the gauge back at 1
    replace(live / "server.key", pki["server.key"].read_bytes())
    replace(web_file, good.encode())
    assert wait_for(lambda: web_reload_gauge(exporter, pki["ca.crt"]) == 1.0, timeout=10)
    exporter.stop()
    refusals = [line for line in exporter.output.splitlines()
                if "web config reload refused" in line]
    assert len(refusals) == 3, refusals  # one line per refused change, not one per look
    assert "cannot load cert_file/key_file" in refusals[0]
    assert "not valid YAML" in refusals[1]
    assert "TLS cannot be turned off without a restart" in refusals[2]
