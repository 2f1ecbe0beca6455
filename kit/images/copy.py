"""Copy a locked upstream image into the kit's registry, byte for byte: every platform of its
index and the digest the lock pins (`skopeo copy --all --preserve-digests`). For upstreams no
pull-through cache can serve (nvcr.io), and on clouds whose registry copies every upstream
(CloudSupport.copies_upstreams): the cluster then pulls exactly the locked digest from inside
the network, with nothing to prime on first pull.

Credentials go to skopeo in a private auth file, never on its command line (where `ps` shows
them). Only a loopback registry is spoken to without TLS.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from kit.errors import KitError
from kit.images.registry import is_loopback

INSTALL_HINT = "install skopeo (apt install skopeo, dnf install skopeo, brew install skopeo)"


def _tls(flag: str, ref: str) -> list[str]:
    return [f"{flag}=false"] if is_loopback(ref.split("/", 1)[0]) else []


def _skopeo(args: list[str], what: str) -> subprocess.CompletedProcess:
    skopeo = shutil.which("skopeo")
    if not skopeo:
        raise KitError(f"{what}: skopeo not found on PATH", hint=INSTALL_HINT)
    return subprocess.run([skopeo, *args], capture_output=True, text=True, check=False)


def copy_tag(release: str, source: str) -> str:
    """The tag of a copy: the release and the digest's first 12 hex digits, so re-locking a
    moving release tag (nginx's 1.29-alpine) never collides in a registry of immutable tags."""
    digest = source.partition("@sha256:")[2]
    return f"{release}-{digest[:12]}" if digest else release


def copy_image(source: str, dest_repository: str, tag: str, *,
               credentials: tuple[str, str] | None = None) -> bool:
    """Copy `source` (repository@sha256:...) to dest_repository:tag; False when the registry
    already holds that digest (a registry with immutable tags refuses the same tag twice)."""
    repository, _, digest = source.partition("@")
    if not digest.startswith("sha256:"):
        raise KitError(f"{source}: not pinned by digest", hint="copy only what the images lock pins")
    dest = f"{dest_repository}:{tag}"
    with tempfile.TemporaryDirectory(prefix="kit-copy-") as tmp:
        auth = Path(tmp) / "auth.json"
        auths = {}
        if credentials:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            auths[dest_repository.split("/", 1)[0]] = {"auth": token}
        auth.write_text(json.dumps({"auths": auths}))
        auth.chmod(0o600)
        there = _skopeo(["inspect", "--raw", "--authfile", str(auth),
                         *_tls("--tls-verify", dest_repository),
                         f"docker://{dest_repository}@{digest}"], f"skopeo inspect {dest_repository}")
        if there.returncode == 0:
            return False
        done = _skopeo(["copy", "--all", "--preserve-digests", "--retry-times", "3",
                        "--dest-authfile", str(auth), *_tls("--src-tls-verify", source),
                        *_tls("--dest-tls-verify", dest_repository),
                        f"docker://{source}", f"docker://{dest}"], f"skopeo copy {source}")
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        raise KitError(f"copy {repository} into {dest_repository} failed: "
                       f"{lines[-1] if lines else f'exit {done.returncode}'}",
                       hint="check that this machine reaches both registries, and your access "
                            "to the kit's registry")
    return True
