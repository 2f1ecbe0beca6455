"""`kit images build`: the kit's own images (images/kit, images/trainer) for this kit version,
with the container engine the operator has: docker, podman or buildah, found in that order.

The build context is made here: the Dockerfile's folder, and `wheels/`, a wheelhouse of this
package and of everything its extras need, for the image's platform and Python (pip download,
binary wheels only). The image installs from it with `--no-index`, so a build needs no package
index inside the engine and is the same build an air-gapped operator runs. The trainer's CUDA
flavour takes torch (several GB) from its base image and the rest from a package index at
build time (`--index-url`: the operator's mirror; default PyPI), since a wheelhouse cannot
leave torch out of what the train extra requires.

Base images are build arguments pinned by digest: the release base's tag is resolved at its
registry when no `--base` is given. Labels (OCI annotations) say source, version, revision and
base; an SBOM (CycloneDX, kit.images.sbom) is written into the image at build time.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kit import __version__
from kit.errors import KitError

ENGINES = ("docker", "podman", "buildah")
SOURCE_URL = "https://github.com/lima-kit/lima-kit"
PYTHON_VERSION = "3.11"           # what the bases run: Debian bookworm's and the CUDA image's
DEFAULT_INDEX = "https://pypi.org/simple"
SLIM_BASE = "docker.io/library/python:3.11-slim-bookworm"
CUDA_BASE = "docker.io/pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime"
# Each architecture's wheel platforms, newest glibc first (pip download --platform).
PLATFORMS = {"amd64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"],
             "arm64": ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"]}


@dataclass(frozen=True)
class Recipe:
    """How one of the kit's images is built, per flavour: (base image, lima-kit extras)."""

    dockerfile: str
    flavours: dict[str, tuple[str, str]]
    default: str
    torch_from_base: tuple[str, ...] = ()       # flavours whose base image brings torch


RECIPES: dict[str, Recipe] = {
    "kit": Recipe("images/kit/Dockerfile", {"slim": (SLIM_BASE, "storage")}, "slim"),
    "trainer": Recipe("images/trainer/Dockerfile",
                      {"cuda": (CUDA_BASE, "qlora,storage"), "cpu": (SLIM_BASE, "train,storage")},
                      "cuda", torch_from_base=("cuda",)),
}


@dataclass
class BuildRequest:
    name: str
    flavour: str | None = None       # default: the recipe's (trainer: cuda)
    base: str | None = None          # a base image reference (local or pinned); default: resolved
    torch: str = "torch"             # the torch requirement for flavours that install it
    index_url: str | None = None     # a package index the engine may use at build time
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


def pinned_base(reference: str) -> str:
    """A release base (repository:tag) pinned to the digest its registry serves now."""
    from kit.images.registry import resolve_digest

    repository, _, tag = reference.rpartition(":")
    try:
        return f"{repository}@{resolve_digest(repository, tag)}"
    except KitError as exc:
        raise KitError(f"base image {reference}: {exc.message}",
                       hint="pass --base with a local or mirrored base image, pinned by digest "
                            "(repository@sha256:...)") from None


def _pip(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        raise KitError(f"pip {args[0]} for the image's wheelhouse failed: "
                       f"{lines[-1] if lines else proc.returncode}",
                       hint="check the package index (or its mirror) is reachable from here")


# Dependencies of the extras that PyPI carries as source only (rouge-score: the trainer's
# ROUGE-L). Each is pure Python.
SOURCE_ONLY = ("rouge-score",)


def wheelhouse(dest: Path, root: Path, extras: str, *, torch: str | None, arch: str) -> list[str]:
    """This package's wheel plus every wheel its extras need, for the image's platform."""
    dest.mkdir(parents=True, exist_ok=True)
    _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest), str(root))
    (own,) = sorted(dest.glob("lima_kit-*.whl"))
    if arch not in PLATFORMS:
        raise KitError(f"--arch {arch}: no wheels for it", hint=f"one of {', '.join(PLATFORMS)}")
    platforms = [arg for p in PLATFORMS[arch] for arg in ("--platform", p)]
    wanted = [f"{own}[{extras}]"] + ([torch] if torch else [])
    constraints = dest.parent / "constraints.txt"
    constraints.write_text("\n".join(installed_pins(skip={"lima-kit", "torch"})) + "\n")
    # Pure-Python dependencies published as source only: built into wheels here (they are the
    # same on every platform), then found beside the downloaded ones.
    for name in SOURCE_ONLY:
        _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest), "--constraint",
             str(constraints), name)
    _pip("download", "--quiet", "--dest", str(dest), "--only-binary=:all:", *platforms,
         "--python-version", PYTHON_VERSION, "--implementation", "cp", "--find-links", str(dest),
         "--constraint", str(constraints), *wanted)
    return sorted(p.name for p in dest.glob("*.whl"))


def installed_pins(skip: set[str]) -> list[str]:
    """name==version of every distribution in this environment: the image gets the versions
    this kit runs (and was tested) with, wherever its extras overlap."""
    from importlib import metadata

    pins = {}
    for dist in metadata.distributions():
        name = (dist.metadata.get("Name") or "").lower().replace("_", "-")
        if name and name not in skip and "+" not in dist.version:
            pins[name] = f"{name}=={dist.version}"
    return sorted(pins.values())


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
    if flavour in recipe.torch_from_base:
        index = request.index_url or DEFAULT_INDEX
        log(f"  {request.name} ({flavour}): torch from the base, lima-kit[{extras}] from {index}")
        wheels = wheelhouse_own(folder / "wheels", root)
    else:
        index = ""
        torch = request.torch if "train" in extras else None
        log(f"  wheelhouse for {request.name} ({flavour}, linux/{request.arch}, Python "
            f"{PYTHON_VERSION}): lima-kit[{extras}]" + (f" + {torch}" if torch else ""))
        wheels = wheelhouse(folder / "wheels", root, extras, torch=torch, arch=request.arch)
    log(f"  {len(wheels)} wheel(s) in the context")
    return Context(name=request.name, flavour=flavour, folder=folder,
                   tag=local_tag(request.name, flavour), base=base,
                   args={"BASE_IMAGE": base, "EXTRAS": extras, "PIP_INDEX_URL": index},
                   labels=labels)


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


def wheelhouse_own(dest: Path, root: Path) -> list[str]:
    """Only this package's wheel: its dependencies come from --index-url at build time."""
    dest.mkdir(parents=True, exist_ok=True)
    _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest), str(root))
    return sorted(p.name for p in dest.glob("*.whl"))
