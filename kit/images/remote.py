"""`kit images build --remote`: build the kit's images with the cloud's own builder in the
customer's account, for operators with no container engine. The kit makes the same build
context a local build uses (kit.images.build.prepare), uploads it as a zip to the kit's
artifacts bucket (builds/<image>-<sha256>.zip), and asks the target's CloudSupport to build
and push it (AWS: CodeBuild in the private VPC); the digest it pushed goes into the lock.

Inside the private network the base image comes through the registry mirror and every Python
package from the bundle's wheelhouse, so the builder needs no internet.
"""

from __future__ import annotations

import hashlib
import shlex
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from kit.errors import KitError

if TYPE_CHECKING:
    from kit.config import KitConfig
    from kit.images.build import BuildRequest
    from kit.images.push import Pushed
    from stacks.clouds import CloudSupport
    from stacks.contract import ClusterOutputs


@dataclass(frozen=True)
class RemoteBuild:
    """What a cloud's builder needs: the bundle, where to push, and the build's flags."""

    source: str          # bucket URI of the zipped context
    image: str           # repository:tag to push
    build_args: str      # `--build-arg K=V ...`, shell-quoted
    labels: str          # `--label K=V ...`, shell-quoted


def zip_context(folder: Path, dest: Path) -> str:
    """Zip a build context deterministically (sorted, fixed times); returns its sha256."""
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return hashlib.sha256(dest.read_bytes()).hexdigest()


def flags(option: str, values: dict[str, str]) -> str:
    return " ".join(f"{option} {shlex.quote(f'{k}={v}')}" for k, v in values.items())


def builder(cfg: "KitConfig") -> "CloudSupport":
    """The support of a target whose stack has a builder of the kit's own, or a one-line error:
    the target has none, or its stack does not exist yet."""
    from kit.targets import support_for

    support = support_for(cfg.target)
    support.use(support.remote_build)
    if not cfg.workdir.cluster_outputs.exists():
        raise KitError(f"{cfg.name}: the builder is part of the stack, which does not exist yet",
                       hint="run `kit up` first (its mirror phase builds the images when it can)")
    return support


def remote_build(cfg: "KitConfig", cluster: "ClusterOutputs", request: "BuildRequest", *,
                 log: Callable[[str], None]) -> "Pushed":
    """Build and push one image with the builder of the stack whose outputs are `cluster`
    (kit.render.cluster_for: the stack's own, once `builder(cfg)` holds)."""
    from dataclasses import replace

    from kit.data.storage import open_store
    from kit.images import through_mirror
    from kit.images.build import RECIPES, pinned_base, prepare
    from kit.images.push import Pushed, remote_repository
    from kit.layout.buckets import bucket_owners, builds_uri

    support = builder(cfg)
    recipe = RECIPES[request.name]
    flavour = request.flavour or recipe.default
    if request.base is None:   # the release base, pulled through the stack's mirror
        release = recipe.flavours[flavour][0]
        base = pinned_base(release)
        mirrored = through_mirror(base, cluster.registry_prefix, support.mirror_join)
        if support.copies_upstreams:   # no pull-through cache: copy it in first
            from kit.images import IMAGES
            from kit.images.copy import copy_image, copy_tag

            tag = IMAGES[release].tag if release in IMAGES else release.rsplit(":", 1)[-1]
            copy_image(base, mirrored.split("@", 1)[0], copy_tag(tag, base),
                       credentials=support.registry_login(cfg, cluster.registry_prefix))
            log(f"  base {base} copied to {mirrored.split('@', 1)[0]}")
        request = replace(request, base=mirrored)
    with tempfile.TemporaryDirectory(prefix="kit-remote-") as tmp:
        ctx = prepare(request, Path(tmp) / "context", log=log)
        bundle = Path(tmp) / "bundle.zip"
        sha = zip_context(ctx.folder, bundle)
        key = f"{request.name}-{sha[:16]}.zip"
        builds = builds_uri(cluster.artifacts_uri)
        open_store(builds, owners=bucket_owners(cluster)).put(key, bundle.read_bytes(), sha)
        log(f"  uploaded the build context to {builds}{key} ({bundle.stat().st_size // 1024} KiB)")
    image = f"{remote_repository(cluster.registry_prefix, request.name)}:{ctx.tag.rsplit(':', 1)[1]}"
    spec = RemoteBuild(source=f"{builds}{key}", image=image, build_args=flags("--build-arg", ctx.args),
                       labels=flags("--label", ctx.labels))
    digest = support.use(support.remote_build)(cfg, spec, log)
    return Pushed(name=request.name, reference=f"{image}@{digest}", tag=image)
