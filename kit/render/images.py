"""Container images the kit deploys, and the digests they are pinned to.

The table below names each image and the release it must come from. Pods never run a tag:
every reference in a rendered object is `repository@sha256:<digest>`. The digests come
from an images lock, a JSON object {name: "repository@sha256:<64 hex>"} that the step
`kit images lock` (run where the registries are reachable) or a reviewed lock file
writes to `<workdir>/images.json`; `kit render --images FILE` passes one explicitly.
Nothing here talks to a registry: rendering stays offline.

Inside the network, images come from the registry mirror of ClusterOutputs.registry_prefix
(stacks/aws/registry.py lays it out): an upstream image `<host>/<repo>@sha256:D` is pulled
as `<prefix>/<segment>/<repo>@sha256:D` through the pull-through cache rule of its host,
and the kit's own images as `<prefix>/<image>@sha256:D`. The digest is the same on both
sides, so pinning holds through the mirror.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kit import __version__
from kit.errors import KitError

DIGEST_REF = re.compile(r"^[a-z0-9][a-z0-9._/:-]*@sha256:[a-f0-9]{64}$")


@dataclass(frozen=True)
class Image:
    repository: str
    tag: str       # the release whose digest the lock must hold
    why: str


IMAGES: dict[str, Image] = {
    "tgi": Image("ghcr.io/huggingface/text-generation-inference", "3.3.7",
                 "last TGI release; contains the CVE-2026-0599 fix (commit 24ee40d1)"),
    "vllm": Image("docker.io/vllm/vllm-openai", "v0.33.0",
                  "vLLM OpenAI-compatible server, the maintained alternative to TGI"),
    "proxy": Image("docker.io/nginxinc/nginx-unprivileged", "1.29-alpine",
                   "API-key proxy: small, well-known, non-root nginx with busybox sh"),
    "kit": Image("ghcr.io/lima-kit/kit", __version__,
                 "images/kit: stages data and weights (`python -m kit.data.sync`)"),
    "trainer": Image("ghcr.io/lima-kit/trainer", __version__,
                     "images/trainer: `python -m kit.trainer` with the [train] extra"),
}


def lock_path(workdir: Path) -> Path:
    """Where the mirror/push step records the digests of one deployment."""
    return workdir / "images.json"


def load_lock(path: Path) -> dict[str, str]:
    """Read an images lock and check every entry is a known name pinned by digest."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KitError(f"{path}: no such images lock",
                       hint="pass a JSON file of {name: repository@sha256:...}") from None
    except json.JSONDecodeError as exc:
        raise KitError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise KitError(f"{path}: an images lock is a JSON object of name -> reference")
    return check(raw, source=str(path))


def check(refs: Mapping[str, object], *, source: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, ref in refs.items():
        if name not in IMAGES:
            raise KitError(f"{source}: {name}: unknown image name",
                           hint=f"known names: {', '.join(IMAGES)}")
        if not isinstance(ref, str) or not DIGEST_REF.match(ref):
            raise KitError(f"{source}: {name}: {ref!r} is not pinned by digest",
                           hint="use repository@sha256:<64 hex digits>, never a tag")
        out[name] = ref
    return out


# Upstream registry host -> the mirror's path segment for its pull-through cache rule.
UPSTREAM_SEGMENTS = {"ghcr.io": "ghcr", "docker.io": "docker-hub", "registry-1.docker.io": "docker-hub",
                     "registry.k8s.io": "k8s", "public.ecr.aws": "ecr-public"}
KIT_REPOSITORY_PREFIX = "ghcr.io/lima-kit/"


def through_mirror(ref: str, registry_prefix: str) -> str:
    """The reference as pulled through the in-network mirror (unchanged without one)."""
    prefix = registry_prefix.rstrip("/")
    if not prefix or ref.startswith(prefix + "/"):
        return ref
    if ref.startswith(KIT_REPOSITORY_PREFIX):
        return f"{prefix}/{ref[len(KIT_REPOSITORY_PREFIX):]}"
    host, _, path = ref.partition("/")
    if host not in UPSTREAM_SEGMENTS:
        raise KitError(f"images lock: {ref}: {host} has no pull-through cache in the mirror",
                       hint=f"use an image from {', '.join(sorted(UPSTREAM_SEGMENTS))}, "
                            "or a reference already under the registry prefix")
    return f"{prefix}/{UPSTREAM_SEGMENTS[host]}/{path}"


def resolve(workdir: Path, needed: list[str], images: Mapping[str, str] | None = None,
            *, registry_prefix: str = "") -> dict[str, str]:
    """The digest-pinned reference of every needed image, or a KitError naming the gaps."""
    if images is not None:
        refs = check(images, source="images")
    else:
        path = lock_path(workdir)
        if not path.exists():
            raise KitError(
                f"{path}: no images lock: image digests are not known yet",
                hint="run `kit images lock` where the registries are reachable, "
                     "or pass `--images FILE` with {name: repository@sha256:...}")
        refs = load_lock(path)
    missing = [n for n in needed if n not in refs]
    if missing:
        wanted = ", ".join(f"{n} ({IMAGES[n].repository}:{IMAGES[n].tag})" for n in missing)
        raise KitError(f"images lock: no digest for {wanted}",
                       hint="run `kit images lock`, then render again")
    return {n: through_mirror(refs[n], registry_prefix) for n in needed}
