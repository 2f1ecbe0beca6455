"""Real protocol servers on loopback, one per session, on free ports: moto (S3),
gcp-storage-emulator (GCS) and Azurite (Azure Blob, from npm in .tools/).

Each test gets a fresh prefix and applies the endpoint variables only for itself (monkeypatch),
so nothing leaks into other test areas. `server_env(name)` gives the same variables for
subprocesses.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AZURITE = ROOT / ".tools" / "node_modules" / ".bin" / "azurite-blob"
AZURITE_ACCOUNT = "devstoreaccount1"  # Azurite's documented well-known dev account
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw==")  # Azurite's documented well-known dev key
BUCKET = "kit-test"
# Variables that would point a client elsewhere: removed from every test's environment.
ENDPOINT_VARS = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "STORAGE_EMULATOR_HOST",
                 "AZURE_STORAGE_CONNECTION_STRING", "KIT_STORAGE_KMS_KEY", "KIT_PART_SIZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, name: str, log: Path,
               timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name} exited with {proc.returncode}: {tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not open port {port} in {timeout}s")


@dataclass
class Server:
    name: str
    env: dict[str, str]
    proc: subprocess.Popen
    scheme: str
    buckets: set[str] = field(default_factory=set)


def _start(name: str, cmd: list[str], port: int, env: dict[str, str], scheme: str,
           tmp: Path) -> Server:
    log = open(tmp / f"{name}.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
                            env={**os.environ, **env})
    _wait_port(port, proc, name, tmp / f"{name}.log")
    return Server(name, env, proc, scheme)


def _stop(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    port = free_port()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    server = _start("moto", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                    port, env, "s3", tmp_path_factory.mktemp("moto"))
    import boto3

    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=BUCKET)
    yield server
    _stop(server)


@pytest.fixture(scope="session")
def gcs(tmp_path_factory):
    port = free_port()
    env = {"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}", "GOOGLE_CLOUD_PROJECT": "kit-test"}
    cmd = [str(BIN / "gcp-storage-emulator"), "start", "--host", "127.0.0.1", "--port", str(port),
           "--in-memory", "--default-bucket", BUCKET, "-q"]
    server = _start("gcs", cmd, port, env, "gs", tmp_path_factory.mktemp("gcs"))
    yield server
    _stop(server)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    if not AZURITE.exists() or not shutil.which("node"):
        message = (f"Azurite not installed at {AZURITE}: "
                   f"npm install --prefix {ROOT / '.tools'} azurite")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    conn = (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};")
    work = tmp_path_factory.mktemp("azurite")
    cmd = [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port),
           "--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--silent",
           "--disableTelemetry"]
    server = _start("azurite", cmd, port, {"AZURE_STORAGE_CONNECTION_STRING": conn}, "az", work)
    from azure.storage.blob import BlobServiceClient

    BlobServiceClient.from_connection_string(conn).create_container(BUCKET)
    yield server
    _stop(server)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ENDPOINT_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(params=["s3", "gs", "az"])
def remote(request, monkeypatch):
    """A fresh, empty prefix on each backend, with that backend's endpoint variables set."""
    server = request.getfixturevalue({"s3": "moto", "gs": "gcs", "az": "azurite"}[request.param])
    for key, value in server.env.items():
        monkeypatch.setenv(key, value)
    root = f"az://{AZURITE_ACCOUNT}/{BUCKET}" if server.scheme == "az" else f"{server.scheme}://{BUCKET}"
    return Remote(server, f"{root}/{uuid.uuid4().hex[:12]}")


@pytest.fixture
def s3(moto, monkeypatch):
    for key, value in moto.env.items():
        monkeypatch.setenv(key, value)
    return Remote(moto, f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}")


@dataclass
class Remote:
    server: Server
    uri: str

    def env(self) -> dict[str, str]:
        """The environment for a subprocess that talks to this server."""
        base = {k: v for k, v in os.environ.items() if k not in ENDPOINT_VARS}
        return {**base, **self.server.env, "PYTHONPATH": str(ROOT)}


def _kit(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True,
                          env=env or {**os.environ, "PYTHONPATH": str(ROOT)}, cwd=cwd,
                          timeout=timeout)


@pytest.fixture
def kit():
    """Run `python -m kit ...` the way a user does (no tracebacks may reach them)."""
    return _kit
