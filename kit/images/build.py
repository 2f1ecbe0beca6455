"""`kit images build`: the kit's own images (images/kit, images/trainer) for this kit version,
with the container engine the operator has: docker, podman or buildah, found in that order.

The build context is made here: the Dockerfile's folder, and `wheels/`, a wheelhouse of this
package and of everything its extras need, for the image's platform and Python, with a hash
lock (kit.images.wheels). The image installs from it with `--no-index --require-hashes`, so a
build needs no package index inside the engine, installs exactly the files fetched here, and is
the same build an air-gapped operator runs. The trainer's CUDA flavour takes torch (several GB)
and its CUDA libraries from its base image, and everything else from the wheelhouse.

Base images are build arguments pinned by digest: the release base's tag is resolved at its
registry when no `--base` is given. Labels (OCI annotations) say source, version, revision and
base; an SBOM (CycloneDX, kit.images.sbom) is written into the image at build time.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kit import __version__
from kit.errors import KitError
from kit.images.wheels import PYTHON_VERSION, wheelhouse

if TYPE_CHECKING:
    from kit.workdir import Workdir

ENGINES = ("docker", "podman", "buildah")
SOURCE_URL = "https://github.com/lima-kit/lima-kit"


@dataclass(frozen=True)
class Recipe:
    """How one of the kit's images is built, per flavour: (base image's name in kit.images'
    table, lima-kit extras)."""

    dockerfile: str
    flavours: dict[str, tuple[str, str]]
    default: str
    # flavour -> the torch version its base image brings (checked in the image at build time)
    torch_from_base: dict[str, str] = field(default_factory=dict)


RECIPES: dict[str, Recipe] = {
    "kit": Recipe("images/kit/Dockerfile", {"slim": ("base-slim", "storage")}, "slim"),
    "trainer": Recipe("images/trainer/Dockerfile",
                      {"cuda": ("base-cuda", "qlora,storage"), "cpu": ("base-slim", "train,storage")},
                      "cuda", torch_from_base={"cuda": "2.9.0"}),
}


@dataclass
class BuildRequest:
    name: str
    flavour: str | None = None       # default: the recipe's (trainer: cuda)
    base: str | None = None          # a base image reference (local or pinned); default: locked
    torch: str = "torch"             # the torch requirement for flavours that install it
    index_url: str | None = None     # the package index (mirror) the wheelhouse comes from
    arch: str = field(default_factory=lambda: host_arch())


@dataclass
class Built:
    name: str
    flavour: str
    tag: str                         # local reference, e.g. localhost/lima-kit/trainer:0.1.0-cpu
    engine: str
    base: str
    labels: dict[str, str]


def host_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def find_engine(preferred: str | None = None) -> str:
    """The first container engine on PATH (or the one asked for), as a command name."""
    wanted = [preferred] if preferred else list(ENGINES)
    for name in wanted:
        if shutil.which(name):
            return name
    raise KitError(f"no container engine found ({', '.join(wanted)} not on PATH)",
                   hint="install docker, podman or buildah, or let the cloud's builder build "
                        "in your account: kit images build --remote")


def source_tree() -> Path:
    """The lima-kit checkout this package runs from: the build context needs its sources."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file() or not (root / "images").is_dir():
        raise KitError(f"{root}: not a lima-kit source checkout (no pyproject.toml and images/)",
                       hint="build from a clone of the lima-kit repository at this version")
    return root


def local_tag(name: str, flavour: str) -> str:
    recipe = RECIPES[name]
    suffix = "" if flavour == recipe.default else f"-{flavour}"
    return f"localhost/lima-kit/{name}:{__version__}{suffix}"


def revision(root: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def base_of(name: str, flavour: str | None) -> str:
    """The kit.images name of an image's base ("base-slim", "base-cuda")."""
    recipe = RECIPES[name]
    return recipe.flavours[flavour or recipe.default][0]


def pinned_base(image: str) -> str:
    """A release base (its kit.images name) pinned to the digest its registry serves now."""
    from kit.images import IMAGES
    from kit.images.registry import resolve_digest

    repository, tag = IMAGES[image].repository, IMAGES[image].tag
    try:
        return f"{repository}@{resolve_digest(repository, tag)}"
    except KitError as exc:
        raise KitError(f"base image {repository}:{tag}: {exc.message}",
                       hint="pass --base with a local or mirrored base image, pinned by digest "
                            "(repository@sha256:...)") from None


def locked_base(workdir: "Workdir", name: str, flavour: str | None) -> str:
    """The base's digest from the deployment's images lock; resolved at its registry and
    recorded in the lock first when the lock has none, so every later build of this
    deployment (and a reviewer) sees the same base."""
    from kit.images import current_lock, lock_images

    image = base_of(name, flavour)
    return current_lock(workdir).get(image) or lock_images(workdir, names=[image])[image]


def build_command(engine: str, dockerfile: Path, context: Path, tag: str,
                  args: dict[str, str], labels: dict[str, str], arch: str) -> list[str]:
    """The engine's build command line (docker and podman share one syntax; buildah's `bud`
    runs with chroot isolation, which needs no daemon and works in containers)."""
    cmd = [engine, "build"] if engine != "buildah" else [engine, "bud", "--isolation", "chroot"]
    cmd += ["--file", str(dockerfile), "--tag", tag, "--platform", f"linux/{arch}"]
    for key, value in args.items():
        cmd += ["--build-arg", f"{key}={value}"]
    for key, value in labels.items():
        cmd += ["--label", f"{key}={value}"]
    return cmd + [str(context)]


@dataclass
class Context:
    """A build context made on disk: what any engine (or a cloud's builder) builds from."""

    name: str
    flavour: str
    folder: Path                 # holds Dockerfile and wheels/
    tag: str                     # localhost/lima-kit/<name>:<version>[-flavour]
    base: str
    args: dict[str, str]         # build arguments
    labels: dict[str, str]       # OCI annotations


def prepare(request: BuildRequest, folder: Path, *, log=print) -> Context:
    """Write the build context of one image into `folder` (its Dockerfile and wheelhouse)."""
    if request.name not in RECIPES:
        raise KitError(f"unknown image {request.name!r}: the kit builds {', '.join(RECIPES)}",
                       hint="upstream images (tgi, vllm, proxy) come through the registry mirror")
    recipe = RECIPES[request.name]
    flavour = request.flavour or recipe.default
    if flavour not in recipe.flavours:
        raise KitError(f"flavour {flavour}: {request.name} comes as {', '.join(recipe.flavours)}")
    root = source_tree()
    release_base, extras = recipe.flavours[flavour]
    base = request.base or pinned_base(release_base)
    labels = {
        "org.opencontainers.image.title": f"lima-kit {request.name}",
        "org.opencontainers.image.source": SOURCE_URL,
        "org.opencontainers.image.version": __version__,
        "org.opencontainers.image.revision": revision(root),
        "org.opencontainers.image.base.name": base,
        "org.opencontainers.image.licenses": "Apache-2.0",
        "io.lima-kit.flavour": flavour,
    }
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(root / recipe.dockerfile, folder / "Dockerfile")
    base_torch = recipe.torch_from_base.get(flavour)
    torch = request.torch if "train" in extras and not base_torch else None
    log(f"  wheelhouse for {request.name} ({flavour}, linux/{request.arch}, Python "
        f"{PYTHON_VERSION}): lima-kit[{extras}]" + (f" + {torch}" if torch else "")
        + (f", torch {base_torch} from the base" if base_torch else ""))
    wheels = wheelhouse(folder / "wheels", root, extras, torch=torch, arch=request.arch,
                        base_torch=base_torch, index_url=request.index_url)
    log(f"  {len(wheels)} wheel(s) in the context, each pinned by sha256 (wheels/requirements.txt)")
    args = {"BASE_IMAGE": base}
    if base_torch:
        args["BASE_TORCH"] = base_torch
    return Context(name=request.name, flavour=flavour, folder=folder,
                   tag=local_tag(request.name, flavour), base=base, args=args, labels=labels)


def build(request: BuildRequest, *, engine: str | None = None, log=print) -> Built:
    """Build one image into the local engine's store; returns what was built."""
    engine = find_engine(engine)
    with tempfile.TemporaryDirectory(prefix="kit-image-") as tmp:
        ctx = prepare(request, Path(tmp), log=log)
        log(f"  building {ctx.tag} with {engine}")
        cmd = build_command(engine, ctx.folder / "Dockerfile", ctx.folder, ctx.tag, ctx.args,
                            ctx.labels, request.arch)
        proc = subprocess.run(cmd, check=False, env={**os.environ},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            for line in [ln for ln in proc.stdout.splitlines() if ln.strip()][-15:]:
                log(f"    {line}")
            fd, path = tempfile.mkstemp(prefix=f"kit-build-{request.name}-", suffix=".log")
            with os.fdopen(fd, "w") as fh:
                fh.write(proc.stdout)
            raise KitError(f"{engine} could not build {ctx.tag} (exit {proc.returncode}); its "
                           "last lines are above", hint=f"the whole build log: {path}")
    return Built(name=request.name, flavour=ctx.flavour, tag=ctx.tag, engine=engine,
                 base=ctx.base, labels=ctx.labels)
