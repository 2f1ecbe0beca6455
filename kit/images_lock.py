"""`kit images lock`: resolve each image's release tag to its digest and record the lock.

Charts never run a tag; they need `repository@sha256:...` for every image (kit/render/images.py).
This asks the registry (Docker Registry HTTP API v2, the anonymous bearer-token flow that
ghcr.io and Docker Hub use) for the digest of each tag with a HEAD on the manifest, and writes
`<workdir>/images.json` atomically. Run it where the registries are reachable (an operator
machine or a build host), then review and commit the lock: the cluster only ever pulls those
digests, through the in-network mirror.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

from kit.errors import KitError
from kit.jsonio import write_json

# Docker Hub's API host differs from the name in references.
API_HOSTS = {"docker.io": "registry-1.docker.io"}
ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


def _split(repository: str) -> tuple[str, str]:
    host, _, path = repository.partition("/")
    return host, path


def _request(url: str, *, method: str = "GET", token: str | None = None,
             timeout: float = 20.0) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers={"Accept": ACCEPT})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers or {}), b""


def _challenge(header: str) -> dict[str, str]:
    """Parse `Bearer realm="...",service="...",scope="..."`."""
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def resolve_digest(repository: str, tag: str, *, scheme: str = "https") -> str:
    """The manifest digest of repository:tag, asked of its registry."""
    host, path = _split(repository)
    base = f"{scheme}://{API_HOSTS.get(host, host)}/v2/{path}/manifests/{tag}"
    where = f"{repository}:{tag}"
    try:
        status, headers, _ = _request(base, method="HEAD")
        if status == 401:
            auth = {k.lower(): v for k, v in headers.items()}.get("www-authenticate", "")
            params = _challenge(auth)
            if "realm" not in params:
                raise KitError(f"{where}: the registry wants credentials this command lacks")
            query = urllib.parse.urlencode({k: v for k, v in params.items() if k != "realm"})
            status_t, _, body = _request(f"{params['realm']}?{query}")
            if status_t != 200:
                raise KitError(f"{where}: the registry refused an anonymous token (HTTP {status_t})")
            data = json.loads(body or b"{}")
            token = data.get("token") or data.get("access_token")
            status, headers, _ = _request(base, method="HEAD", token=token)
    except (OSError, urllib.error.URLError) as exc:
        raise KitError(f"{where}: cannot reach {host}: {exc}",
                       hint="run `kit images lock` where the registry is reachable, "
                            "or write the lock by hand and pass it with --from") from None
    if status == 404:
        raise KitError(f"{where}: no such tag in the registry")
    if status != 200:
        raise KitError(f"{where}: the registry answered HTTP {status}")
    digest = {k.lower(): v for k, v in headers.items()}.get("docker-content-digest", "")
    if not DIGEST.match(digest):
        raise KitError(f"{where}: the registry sent no usable Docker-Content-Digest")
    return digest


def lock_images(workdir: Path, *, names: list[str] | None = None,
                resolver: Callable[[str, str], str] = resolve_digest) -> dict[str, str]:
    """Resolve every image (or `names`) and write the lock; returns {name: repo@sha256:...}."""
    from kit.render.images import IMAGES, check, lock_path

    wanted = names or list(IMAGES)
    unknown = [n for n in wanted if n not in IMAGES]
    if unknown:
        raise KitError(f"unknown image name(s): {', '.join(unknown)}",
                       hint=f"known names: {', '.join(IMAGES)}")
    path = lock_path(workdir)
    current = json.loads(path.read_text()) if path.exists() else {}
    for name in wanted:
        image = IMAGES[name]
        current[name] = f"{image.repository}@{resolver(image.repository, image.tag)}"
    refs = check(current, source=str(path))
    write_json(path, refs)
    return refs


def import_lock(workdir: Path, source: Path) -> dict[str, str]:
    """Check a hand-written or reviewed lock and install it for this deployment."""
    from kit.render.images import load_lock, lock_path

    refs = load_lock(source)
    write_json(lock_path(workdir), refs)
    return refs
