"""A Docker Registry HTTP API v2 client, as small as `kit images lock` and `kit images push`
need: the digest of repository:tag, with the anonymous bearer-token flow ghcr.io and Docker Hub
use. Loopback registries (a test's, a build host's) speak plain HTTP; every other one HTTPS."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request

from kit.errors import KitError

LOOPBACK = ("127.", "localhost", "[::1]")


def is_loopback(host: str) -> bool:
    return host.startswith(LOOPBACK)


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


def resolve_digest(repository: str, tag: str) -> str:
    """The manifest digest of repository:tag, asked of its registry."""
    host, path = _split(repository)
    scheme = "http" if is_loopback(host) else "https"
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
