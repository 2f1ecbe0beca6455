"""`kit init` proposes the operator's current public address as network.operator_cidrs where
the cloud filters the operator by address, fails soft (an empty list and a comment saying how
to fill it) when the lookup does not work, and proposes nothing where the cloud offers an
IAM-authorised path (GKE's DNS endpoint). The lookup service is a fake on loopback here."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from kit.config import load


class Echo:
    """A lookup service on 127.0.0.1 answering `body` with `status`; counts its requests."""

    def __init__(self, body: str = "198.51.100.23", status: int = 200, delay: float = 0.0):
        self.body, self.status, self.delay, self.requests = body, status, delay, 0
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                echo.requests += 1
                time.sleep(echo.delay)
                data = echo.body.encode()
                self.send_response(echo.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def echo():
    servers: list[Echo] = []

    def make(**kwargs) -> Echo:
        servers.append(Echo(**kwargs))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def test_the_lookup_returns_the_address_the_service_answers(echo):
    from kit.scaffold import public_address

    assert public_address(echo().url) == ("198.51.100.23", "")


@pytest.mark.parametrize(("body", "status", "why"), [
    ("<html>rate limited</html>", 200, "not an IPv4 address"),
    ("127.0.0.1", 200, "not a usable public address"),
    ("198.51.100.23", 503, "Service Unavailable"),
])
def test_an_unusable_answer_is_a_reason_not_an_address(echo, body, status, why):
    from kit.scaffold import public_address

    addr, reason = public_address(echo(body=body, status=status).url)
    assert addr is None and why in reason


def test_a_slow_service_costs_its_timeout_and_no_more(echo):
    from kit.scaffold import public_address

    start = time.monotonic()
    addr, reason = public_address(echo(delay=3).url, timeout=0.3)
    assert addr is None and reason and time.monotonic() - start < 2


def _init(tmp_path: Path, target: str, monkeypatch, url: str) -> tuple[Path, str]:
    from kit.scaffold import write_config

    monkeypatch.setattr("kit.scaffold.ADDRESS_LOOKUP", url)
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "11111111-2222-3333-4444-555555555555")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "acme-ml-prod")
    data = {"aws": "s3://acme-notes/sft/", "azure": "az://acmeclinical/notes/sft/",
            "gcp": "gs://acme-notes/sft/"}[target]
    path = write_config(tmp_path / "kit.yaml", name="acme", target=target,
                        model="meta-llama/Llama-3.1-8B-Instruct", data=data, method="lora",
                        region=None)
    return path, path.read_text(encoding="utf-8")


@pytest.mark.parametrize("target", ["aws", "azure"])
def test_init_proposes_this_machines_address_and_the_plan_has_no_blocker(tmp_path, monkeypatch,
                                                                         echo, target):
    from kit.infra.blockers import blockers

    path, text = _init(tmp_path, target, monkeypatch, echo().url)
    assert yaml.safe_load(text)["network"]["operator_cidrs"] == ["198.51.100.23/32"]
    assert "this machine's public address as 127.0.0.1" in text
    assert blockers(load(path)) == []


def test_init_fails_soft_with_a_comment_saying_how_to_fill_it(tmp_path, monkeypatch, echo):
    from kit.infra.blockers import blockers

    server = echo()
    closed = server.url
    server.close()                       # nothing listens there any more
    path, text = _init(tmp_path, "aws", monkeypatch, closed)
    line = next(ln for ln in text.splitlines() if "operator_cidrs:" in ln)
    assert line.split("#")[0].strip() == "operator_cidrs: []"
    assert "REQUIRED" in line and "e.g. [A.B.C.D/32]" in line
    assert [b.check for b in blockers(load(path))] == ["operator path"]


def test_init_proposes_no_address_where_the_cloud_gives_an_iam_path(tmp_path, monkeypatch, echo):
    """GKE's DNS-based endpoint admits the operator by IAM from any address: no lookup, no
    address written (listing one would also open the IP endpoint)."""
    server = echo()
    _, text = _init(tmp_path, "gcp", monkeypatch, server.url)
    assert yaml.safe_load(text)["network"]["operator_cidrs"] == []
    assert "none needed on gcp" in text and server.requests == 0
