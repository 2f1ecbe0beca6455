"""The wheelhouse of an image's build context, and its hash lock.

Every image installs from `wheels/` alone (`--no-index`) and from `wheels/requirements.txt`,
which pins each wheel by version and sha256 (`--require-hashes`): what the image holds is
exactly the files the operator's machine fetched, checked byte for byte at build time, and the
build needs no package index inside the engine (the same build an air-gapped operator runs).

Versions: this kit's own environment's, wherever the extras overlap (the versions it was tested
with). Where the base image brings torch (the CUDA trainer), torch and its CUDA libraries are
the base's, pinned by the base's digest; resolution stands torch in with a metadata-only wheel
of the base's torch version, so nothing of torch's several GB is downloaded and nothing else
pulls a second torch in.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from kit.errors import KitError

PYTHON_VERSION = "3.11"           # what the bases run: Debian bookworm's and the CUDA image's
# Each architecture's wheel platforms, newest glibc first (pip download --platform).
PLATFORMS = {"amd64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"],
             "arm64": ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"]}
# Dependencies of the extras that PyPI carries as source only (rouge-score: the trainer's
# ROUGE-L). Each is pure Python.
SOURCE_ONLY = ("rouge-score",)
# What a torch base image brings with torch: never in the wheelhouse of an image built on one.
FROM_TORCH_BASE = ("torch", "triton")
FROM_TORCH_BASE_PREFIXES = ("nvidia-", "cuda-")
LOCK = "requirements.txt"


def pip(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        raise KitError(f"pip {args[0]} for the image's wheelhouse failed: "
                       f"{lines[-1] if lines else proc.returncode}",
                       hint="check the package index (or its mirror) is reachable from here")


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


def from_torch_base(name: str) -> bool:
    name = name.lower().replace("_", "-")
    return name in FROM_TORCH_BASE or name.startswith(FROM_TORCH_BASE_PREFIXES)


def standin_wheel(folder: Path, name: str, version: str) -> Path:
    """A wheel holding only metadata, `name==version+base`: tells the resolver a package the
    base image already has, so it is neither downloaded nor resolved further."""
    local = f"{version}+base"
    stem = f"{name.replace('-', '_')}-{local}"
    path = folder / f"{stem}-py3-none-any.whl"
    info = f"{stem}.dist-info"
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {local}\n")
        whl.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: lima-kit\n"
                                      "Root-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr(f"{info}/RECORD", "")
    return path


def wheelhouse(dest: Path, root: Path, extras: str, *, torch: str | None, arch: str,
               base_torch: str | None = None, index_url: str | None = None) -> list[str]:
    """This package's wheel plus every wheel its extras need, for the image's platform, and the
    hash lock of them all. `torch`: a torch requirement to add (the CPU trainer); `base_torch`:
    the torch version the base image brings (the CUDA trainer), kept out of the wheelhouse."""
    dest.mkdir(parents=True, exist_ok=True)
    pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest), str(root))
    (own,) = sorted(dest.glob("lima_kit-*.whl"))
    if arch not in PLATFORMS:
        raise KitError(f"--arch {arch}: no wheels for it", hint=f"one of {', '.join(PLATFORMS)}")
    platforms = [arg for p in PLATFORMS[arch] for arg in ("--platform", p)]
    wanted = [f"{own}[{extras}]"] + ([torch] if torch else [])
    constraints = dest.parent / "constraints.txt"
    constraints.write_text("\n".join(installed_pins(skip={"lima-kit", "torch"})) + "\n")
    index = ["--index-url", index_url] if index_url else []
    # Pure-Python dependencies published as source only: built into wheels here (they are the
    # same on every platform), then found beside the downloaded ones.
    for name in sorted(requirements_of(own, extras) & set(SOURCE_ONLY)):
        pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest), "--constraint",
            str(constraints), *index, name)
    with tempfile.TemporaryDirectory(prefix="kit-standin-") as standins:
        if base_torch:
            standin_wheel(Path(standins), "torch", base_torch)
            wanted.append(f"torch=={base_torch}+base")
        pip("download", "--quiet", "--dest", str(dest), "--only-binary=:all:", *platforms,
            "--python-version", PYTHON_VERSION, "--implementation", "cp", "--find-links", str(dest),
            "--find-links", standins, "--constraint", str(constraints), *index, *wanted)
    for stray in dest.glob("*+base-py3-none-any.whl"):
        stray.unlink()
    if base_torch:
        from packaging.utils import parse_wheel_filename

        for whl in dest.glob("*.whl"):
            if from_torch_base(str(parse_wheel_filename(whl.name)[0])):
                whl.unlink()      # the base image's, whoever asked for it
    write_lock(dest)
    return sorted(p.name for p in dest.glob("*.whl"))


def requirements_of(wheel: Path, extras: str) -> set[str]:
    """The names a wheel requires with `extras` (comma-separated), from its own metadata."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    with zipfile.ZipFile(wheel) as whl:
        meta = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
        lines = whl.read(meta).decode().splitlines()
    wanted = [""] + [e.strip() for e in extras.split(",") if e.strip()]
    out = set()
    for line in lines:
        if line.startswith("Requires-Dist:"):
            req = Requirement(line.partition(":")[2].strip())
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in wanted):
                out.add(canonicalize_name(req.name))
    return out


def write_lock(wheels: Path) -> Path:
    """wheels/requirements.txt: every wheel of the folder as `name==version --hash=sha256:...`
    (pip's hash-checking mode), one line a distribution."""
    from packaging.utils import canonicalize_name, parse_wheel_filename

    pins: dict[str, tuple[str, list[str]]] = {}
    for whl in sorted(wheels.glob("*.whl")):
        name, version, _build, _tags = parse_wheel_filename(whl.name)
        key = canonicalize_name(name)
        digest = hashlib.sha256(whl.read_bytes()).hexdigest()
        seen_version, hashes = pins.setdefault(key, (str(version), []))
        if seen_version != str(version):
            raise KitError(f"wheelhouse {wheels}: two versions of {key} ({seen_version}, {version})",
                           hint="one version per package: check the constraints")
        hashes.append(digest)
    lock = wheels / LOCK
    lock.write_text("".join(f"{key}=={version} " + " ".join(f"--hash=sha256:{h}" for h in hashes)
                            + "\n" for key, (version, hashes) in sorted(pins.items())))
    return lock
