"""The images' wheelhouse and hash lock (kit.images.wheels), with pip for real against a local
wheel index built in the test: every wheel pinned by version and sha256, and on a torch base
image nothing of torch (or what only torch pulls in) in the wheelhouse."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kit.errors import KitError
from kit.images.wheels import write_lock


def make_wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    stem = f"{name.replace('-', '_')}-{version}"
    path = folder / f"{stem}-py3-none-any.whl"
    info = f"{stem}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr(f"{name.replace('-', '_')}/__init__.py", "")
        whl.writestr(f"{info}/METADATA", meta)
        whl.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                      "Tag: py3-none-any\n")
        whl.writestr(f"{info}/RECORD", "")
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_lock_pins_every_wheel_by_version_and_sha256(tmp_path):
    a = make_wheel(tmp_path, "Alpha_Pkg", "1.2.0")
    b = make_wheel(tmp_path, "beta", "0.3")
    lock = write_lock(tmp_path).read_text().splitlines()
    assert lock == [f"alpha-pkg==1.2.0 --hash=sha256:{sha(a)}", f"beta==0.3 --hash=sha256:{sha(b)}"]


def test_two_versions_of_one_package_are_refused(tmp_path):
    make_wheel(tmp_path, "beta", "0.3")
    make_wheel(tmp_path, "beta", "0.4")
    with pytest.raises(KitError, match="two versions of beta"):
        write_lock(tmp_path)


def test_pip_installs_the_lock_and_refuses_a_changed_wheel(tmp_path):
    """What the Dockerfiles run: `pip install --no-index --find-links W --require-hashes -r
    W/requirements.txt`. A wheel swapped after the lock was written fails the install."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "alpha", "1.0", ("beta>=0.1",))
    beta = make_wheel(wheels, "beta", "0.3")
    write_lock(wheels)
    target = tmp_path / "site"
    args = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", str(wheels),
            "--require-hashes", "-r", str(wheels / "requirements.txt"), "--target", str(target)]
    assert subprocess.run(args, capture_output=True, text=True).returncode == 0
    assert (target / "alpha").is_dir() and (target / "beta").is_dir()
    with zipfile.ZipFile(beta, "a") as whl:                       # tampered after the lock
        whl.writestr("beta/extra.py", "print('hello')\n")
    proc = subprocess.run([*args[:-1], str(tmp_path / "again")], capture_output=True, text=True)
    assert proc.returncode != 0 and "THESE PACKAGES DO NOT MATCH THE HASHES" in proc.stderr


def simple_index(root: Path, wheels: dict[str, Path | bytes]) -> str:
    """A PEP 503 index on disk (a page per project), as a mirror would serve it."""
    for filename, content in wheels.items():
        project = filename.split("-")[0].replace("_", "-").lower()
        folder = root / project
        folder.mkdir(parents=True, exist_ok=True)
        data = content.read_bytes() if isinstance(content, Path) else content
        (folder / filename).write_bytes(data)
        (folder / "index.html").write_text(f'<a href="{filename}">{filename}</a>\n')
    return root.as_uri()


def test_on_a_torch_base_nothing_of_torch_enters_the_wheelhouse(tmp_path, monkeypatch):
    """The CUDA trainer: torch and its CUDA libraries are the base image's. Resolution stands
    torch in at the base's version (a metadata-only wheel), so torch and what only torch
    requires are never even read from the index (here they are corrupt files: reading them
    would fail), and what the other packages ask of torch is checked against the base's."""
    from kit.images import wheels as wheels_module

    project = tmp_path / "lima-kit"
    (project / "kit_fake").mkdir(parents=True)
    (project / "kit_fake" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "lima-kit"\nversion = "0.0.1"\n'
        '[project.optional-dependencies]\ntrain = ["trainlib>=1.0"]\n'
        '[tool.setuptools]\npackages = ["kit_fake"]\n')
    built = tmp_path / "built"
    built.mkdir()
    index = simple_index(tmp_path / "index", {
        "trainlib-1.4-py3-none-any.whl": make_wheel(built, "trainlib", "1.4", ("torch>=2.8", "helper")),
        "helper-2.0-py3-none-any.whl": make_wheel(built, "helper", "2.0"),
        "torch-2.9.0-py3-none-any.whl": b"not a wheel",
        "nvidia_cudnn_cu12-9.1-py3-none-any.whl": b"not a wheel"})
    monkeypatch.setattr(wheels_module, "installed_pins", lambda skip: [])
    monkeypatch.setattr(wheels_module, "PLATFORMS", {"amd64": ["any"]})
    dest = tmp_path / "ctx" / "wheels"
    names = wheels_module.wheelhouse(dest, project, "train", torch=None, arch="amd64",
                                     base_torch="2.9.0", index_url=index)
    assert sorted(n.split("-")[0] for n in names) == ["helper", "lima_kit", "trainlib"]
    lock = (dest / "requirements.txt").read_text()
    assert "torch" not in lock.replace("trainlib", "") and "nvidia" not in lock
    assert "trainlib==1.4 --hash=sha256:" in lock and "lima-kit==0.0.1 --hash=sha256:" in lock
    with pytest.raises(KitError, match="pip download for the image's wheelhouse failed"):
        wheels_module.wheelhouse(tmp_path / "ctx2" / "wheels", project, "train", torch=None,
                                 arch="amd64", base_torch="2.7.0", index_url=index)


def test_a_base_image_comes_from_the_lock_and_is_recorded_there_once(tmp_path, monkeypatch):
    """Base images are pinned by digest in the deployment's images lock: a build uses the
    locked digest; with none locked, the tag is resolved once and written to the lock, so the
    next build (and a reviewer) sees the same base."""
    from kit.images import current_lock, write_refs
    from kit.images.build import locked_base
    from kit.workdir import Workdir

    workdir = Workdir(tmp_path / ".kit", "acme")
    asked = []

    def resolve(repository: str, tag: str) -> str:
        asked.append(f"{repository}:{tag}")
        return "sha256:" + "c" * 64

    monkeypatch.setattr("kit.images.registry.resolve_digest", resolve)
    slim = locked_base(workdir, "kit", None)
    assert slim == "docker.io/library/python@sha256:" + "c" * 64
    assert asked == ["docker.io/library/python:3.11-slim-bookworm"]
    assert current_lock(workdir)["base-slim"] == slim
    assert locked_base(workdir, "trainer", "cpu") == slim and len(asked) == 1   # from the lock
    write_refs(workdir, {**current_lock(workdir),
                         "base-cuda": "docker.io/pytorch/pytorch@sha256:" + "d" * 64})
    assert locked_base(workdir, "trainer", None) == "docker.io/pytorch/pytorch@sha256:" + "d" * 64
    assert len(asked) == 1
