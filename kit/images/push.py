"""`kit images push`: the kit's images, built by `kit images build`, into the deployment's
private registry, and their digests into the images lock, so the charts run exactly what was
pushed. The mirror phase of `kit up` calls `publish` (build, then push) when the lock has no
digest for an image of the kit, so a first `kit up` needs nothing published anywhere.

Registry logins go through the engine's `login --password-stdin` (never a command-line
argument); a cloud's registry hands out short-lived credentials (CloudSupport.registry_login).
Only a loopback registry is spoken to without TLS.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kit import __version__
from kit.errors import KitError
from kit.images.build import RECIPES, find_engine, local_tag
from kit.images.registry import is_loopback

DIGEST_LINE = re.compile(r"digest: (sha256:[a-f0-9]{64})")


@dataclass
class Pushed:
    name: str
    reference: str        # repository:tag@sha256:... as recorded in the lock (the tag says the
    tag: str              # kit version it was built for); repository:tag it was pushed as


def remote_repository(registry: str, name: str) -> str:
    """<registry prefix>/<image>: where the stack's registry keeps the kit's images (and where
    kit.images.through_mirror expects them)."""
    return f"{registry.rstrip('/')}/{name}"


def _run(cmd: list[str], what: str, stdin: str | None = None) -> str:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        raise KitError(f"{what} failed: {lines[-1] if lines else f'exit {proc.returncode}'}",
                       hint="check the registry address and your access to it")
    return proc.stdout + proc.stderr


def login(engine: str, host: str, username: str, password: str) -> None:
    cmd = [engine, "login", "--username", username, "--password-stdin", host]
    if engine != "docker" and is_loopback(host):
        cmd.insert(2, "--tls-verify=false")
    _run(cmd, f"{engine} login to {host}", stdin=password)


def push(engine: str, local: str, remote: str) -> str:
    """Push `local` as `remote` (repository:tag); returns the manifest digest the registry has."""
    host = remote.split("/", 1)[0]
    if engine == "docker":
        _run(["docker", "tag", local, remote], f"docker tag {remote}")
        out = _run(["docker", "push", remote], f"docker push {remote}")
        found = DIGEST_LINE.search(out)
        if not found:
            raise KitError(f"docker push {remote}: the registry reported no digest")
        return found.group(1)
    with tempfile.TemporaryDirectory(prefix="kit-push-") as tmp:
        digest_file = Path(tmp) / "digest"
        cmd = [engine, "push", "--digestfile", str(digest_file)]
        if is_loopback(host):
            cmd.append("--tls-verify=false")
        _run(cmd + [local, f"docker://{remote}"], f"{engine} push {remote}")
        digest = digest_file.read_text().strip()
    if not re.fullmatch(r"sha256:[a-f0-9]{64}", digest):
        raise KitError(f"{engine} push {remote}: no usable digest ({digest!r})")
    return digest


def push_images(names: list[str], registry: str, *, flavours: dict[str, str] | None = None,
                engine: str | None = None,
                credentials: tuple[str, str] | None = None) -> list[Pushed]:
    """Push each built image to <registry>/<name>:<tag>; returns the digest references."""
    engine = find_engine(engine)
    if credentials:
        login(engine, registry.split("/", 1)[0], *credentials)
    pushed = []
    for name in names:
        flavour = (flavours or {}).get(name) or RECIPES[name].default
        local = local_tag(name, flavour)
        remote = f"{remote_repository(registry, name)}:{local.rsplit(':', 1)[1]}"
        digest = push(engine, local, remote)
        pushed.append(Pushed(name=name, reference=f"{remote}@{digest}", tag=remote))
    return pushed


def record(workdir, pushed: list[Pushed]) -> dict[str, str]:
    """Merge the pushed digests into the deployment's images lock (written atomically)."""
    from kit.images import current_lock, write_refs

    refs = current_lock(workdir)
    refs.update({p.name: p.reference for p in pushed})
    return write_refs(workdir, refs)


def publish(workdir, registry: str, names: list[str], *, log: Callable[[str], None],
            credentials: tuple[str, str] | None = None) -> dict[str, str]:
    """Build (the flavour a GPU cluster runs) and push the named images, and lock them."""
    from kit.images.build import BuildRequest, build

    engine = find_engine()
    for name in names:
        log(f"  building {name} {__version__} (no digest in the images lock yet)")
        build(BuildRequest(name=name), engine=engine, log=log)
    pushed = push_images(names, registry, engine=engine, credentials=credentials)
    for p in pushed:
        log(f"  pushed {p.tag} -> {p.reference}")
    return record(workdir, pushed)
