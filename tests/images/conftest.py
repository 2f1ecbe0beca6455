"""Real image builds with buildah (chroot isolation, vfs storage: no daemon, works in a
container) on a Debian base made with debootstrap from Debian's packages (no image registry is
reachable here), and a real registry on loopback (Debian's docker-registry, the CNCF
distribution server). CI installs the tools (.ci/run); elsewhere the tests skip, saying why.

The debootstrapped base is cached in ~/.cache/lima-kit/ and in buildah's own image store, so
only the first run on a machine pays for it (~45 s)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("buildah", "debootstrap", "docker-registry", "skopeo")
BASE = "localhost/lima-kit-base:bookworm"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lima-kit"
# The CPU torch that pip resolves here (a local file); what the Makefile installs too.
TORCH = os.environ.get("TORCH", "torch==2.13.0")
RUNTIME_FLAKE = "sealing memfd copy"


def engine_env() -> dict[str, str]:
    return {**os.environ, "STORAGE_DRIVER": "vfs", "PYTHONPATH": str(ROOT)}


def sh(*cmd: str, timeout: float = 900, check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout,
                          env=kw.pop("env", engine_env()), **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}"
                             f"\n{proc.stderr[-3000:]}")
    return proc


def kit(*args: str, cwd: Path | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    return sh(sys.executable, "-m", "kit", *args, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="session")
def report(pytestconfig):
    """Print to the terminal (the CI log) past pytest's capture."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def say(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(f"\n[images] {line}", flush=True)
    return say


@pytest.fixture(scope="session")
def tools():
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        message = (f"{', '.join(missing)} not installed: apt-get install buildah debootstrap "
                   "docker-registry skopeo (or skip: -m 'not images')")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _base_exists() -> bool:
    return sh("buildah", "inspect", "--type", "image", BASE, check=False).returncode == 0


@pytest.fixture(scope="session")
def base_image(tools, tmp_path_factory, report) -> str:
    """A Debian bookworm base with Python 3.11 (what python:3.11-slim-bookworm is built from)."""
    if _base_exists():
        return BASE
    started = time.monotonic()
    tarball = CACHE / "base-bookworm-rootfs.tar"
    work = tmp_path_factory.mktemp("base")
    rootfs = work / "rootfs"
    if not tarball.exists():
        sh("debootstrap", "--variant=minbase",
           "--include=python3,python3-venv,python-is-python3,ca-certificates",
           "bookworm", str(rootfs), "http://deb.debian.org/debian", timeout=900)
        CACHE.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball.with_suffix(".tmp"), "w") as tar:
            tar.add(rootfs, arcname=".")
        tarball.with_suffix(".tmp").replace(tarball)
    else:
        rootfs.mkdir()
        with tarfile.open(tarball) as tar:
            tar.extractall(rootfs)  # noqa: S202 (our own cache)
    ctr = sh("buildah", "from", "scratch").stdout.strip()
    mount = sh("buildah", "mount", ctr).stdout.strip()
    sh("cp", "-a", f"{rootfs}/.", f"{mount}/")
    sh("buildah", "umount", ctr)
    sh("buildah", "commit", "--quiet", ctr, BASE)
    sh("buildah", "rm", ctr)
    report(f"made base {BASE} with debootstrap in {time.monotonic() - started:.0f} s")
    return BASE


@pytest.fixture(scope="session")
def built(base_image, report) -> dict[str, str]:
    """`kit images build kit trainer --cpu`, for real: name -> local tag."""
    started = time.monotonic()
    proc = kit("images", "build", "kit", "trainer", "--cpu", "--base", base_image,
               "--torch", TORCH, "--engine", "buildah", timeout=1500)
    tags = {}
    for line in proc.stdout.splitlines():
        if line.startswith("built "):
            tag = line.split()[1]
            tags[tag.split("/")[-1].split(":")[0]] = tag
    assert set(tags) == {"kit", "trainer"}, proc.stdout
    for tag in tags.values():
        layers = json.loads(sh("buildah", "inspect", "--type", "image", tag).stdout)["OCIv1"]["rootfs"]
        report(f"built {tag} ({len(layers.get('diff_ids', []))} layers)")
    report(f"both images built in {time.monotonic() - started:.0f} s")
    return tags


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited ({proc.returncode})")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not listen on {port}")


@pytest.fixture(scope="session")
def registry(tools, tmp_path_factory):
    """A real registry (distribution 2.8) on loopback: host:port."""
    work = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = work / "config.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {work / 'data'}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc, "docker-registry")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def moto(tools):
    """moto's S3 on loopback: the environment a process needs to reach it."""
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1",
                             "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc, "moto_server")
        yield {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_in(image: str, *cmd: str, env: dict[str, str] | None = None,
           volumes: dict[Path, str] | None = None, check: bool = True, user: str | None = None,
           args: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`buildah run --isolation chroot` a command in a fresh container of `image`, as the
    image's user unless `user` (podman run cannot start containers in this sandbox: setrlimit
    is refused). `args`: one more argument after `cmd` (a shell script)."""
    ctr = sh("buildah", "from", "--quiet", image).stdout.strip()
    cmd = (*cmd, args) if args is not None else cmd
    try:
        args_ = ["buildah", "run", "--isolation", "chroot"] + (["--user", user] if user else [])
        args = None
        for key, value in (env or {}).items():
            args_ += ["--env", f"{key}={value}"]
        for host, inside in (volumes or {}).items():
            args_ += ["--volume", f"{host}:{inside}"]
        proc = sh(*args_, ctr, "--", *cmd, check=False, timeout=timeout)
        if proc.returncode != 0 and RUNTIME_FLAKE in proc.stderr:
            # buildah's chroot runtime failed to start the process (seen once on a busy
            # machine); the command itself never ran, so running it again is not a retry of it.
            proc = sh(*args_, ctr, "--", *cmd, check=False, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed in {image} ({proc.returncode}):\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc
    finally:
        sh("buildah", "rm", ctr, check=False)
