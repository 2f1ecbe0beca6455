"""The shape of the code: neutral code never names a cloud, no module imports itself in a
circle (function-level imports counted), modules stay small, and every relative link in the
README resolves. Each check reads the source as it is, so it fails on the first regression."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLOUD_BRANCH = re.compile(r"""(==|!=|in [(\[])\s*['"](aws|gcp|azure)['"]""")
# A target's name compared, on either side, or looked up in a literal collection: what a target
# can do is a field of its support object (kit.targets), never a branch on its name.
TARGET_NAMES = r"(local|kubernetes|aws|gcp|azure)"
TARGET_BRANCH = re.compile(r"""(==|!=)\s*["']%s["']|["']%s["']\s*(==|!=)|\bin\s*[(\[{]\s*["']%s["']"""
                           % (TARGET_NAMES, TARGET_NAMES, TARGET_NAMES))
REF = re.compile(r"^((?:kit|stacks)(?:\.\w+)+):\w+$")   # "module:attr", imported on first use


def modules(*packages: str) -> dict[str, Path]:
    out = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports_of(path: Path, name: str, known: set[str], *, lazy_refs: bool) -> set[str]:
    """Every kit/stacks module `path` imports, at any depth of the file (and, with lazy_refs,
    every "module:attr" string it names for a lazy import); type-checking imports aside."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(block.test) for n in ast.walk(block)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:     # `if TYPE_CHECKING:` imports never run
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        elif lazy_refs and isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = REF.match(node.value)
            targets = [match.group(1)] if match else []
        found.update(t for t in targets if t in known and t != name)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_in_kit_counting_function_level_imports():
    found = modules("kit")
    graph = {n: imports_of(p, n, set(found), lazy_refs=True) for n, p in found.items()}
    assert cycles(graph) == []


def package_of(module: str) -> str:
    """kit.cluster.kube -> kit.cluster; kit.config -> kit.config; stacks.aws.stack -> stacks.aws."""
    return ".".join(module.split(".")[:2])


def test_no_import_cycle_between_packages_of_kit_and_stacks():
    """The law of the layers (docs/design.md): packages of kit/ and stacks/ import one another one
    way only, imports inside functions counted (TYPE_CHECKING aside), as
    /work/shared/tools/layering.py draws them. A lazy "module:function" of the seam is not an
    import: the seam resolves it by name when it is called."""
    found = modules("kit", "stacks")
    graph: dict[str, set[str]] = {}
    for name, path in found.items():
        mine = package_of(name)
        graph.setdefault(mine, set()).update(
            package_of(t) for t in imports_of(path, name, set(found), lazy_refs=False)
            if package_of(t) != mine)
    assert cycles(graph) == []


def test_stacks_never_import_the_kits_drivers():
    """A cloud's stack sits below the kit's drivers (docs/design.md, the layers): the kit runs
    the stack, so the stack may use the config, the image table and the renderer, never the
    cluster target, the Pulumi driver, a command or the local target."""
    found = modules("kit", "stacks")
    drivers = ("kit.cluster", "kit.infra", "kit.commands", "kit.cli", "kit.local", "kit.target")
    hits = sorted(f"{name} -> {t}" for name, path in found.items() if name.startswith("stacks.")
                  for t in imports_of(path, name, set(found), lazy_refs=True)
                  if package_of(t) in drivers)
    assert hits == []


def test_the_package_graph_sees_an_import_inside_a_function(tmp_path):
    """The check above would pass on anything if it missed function-level imports."""
    path = tmp_path / "mod.py"
    path.write_text("def f():\n    from kit.config import KitConfig\n", encoding="utf-8")
    assert imports_of(path, "stacks.aws.mod", {"kit.config", "stacks.aws.mod"}, lazy_refs=False) == \
        {"kit.config"}


def test_no_import_cycle_across_kit_and_stacks_at_import_time():
    found = modules("kit", "stacks")
    graph = {n: imports_of(p, n, set(found), lazy_refs=False) for n, p in found.items()}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_neutral_code_never_branches_on_a_cloud_name():
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in (ROOT / "kit").rglob("*.py")
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if CLOUD_BRANCH.search(line)]
    assert hits == []


def test_neutral_code_never_compares_a_target_name():
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in (ROOT / "kit").rglob("*.py")
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if TARGET_BRANCH.search(line.split("#", 1)[0])]
    assert hits == []


@pytest.mark.parametrize("line", ['if cfg.target == "local":', "if cfg.target != 'kubernetes':",
                                  'if "aws" == target:', 'if target in ("local", "gcp"):'])
def test_the_target_name_check_catches_each_form(line):
    assert TARGET_BRANCH.search(line)


def test_the_config_names_no_cloud():
    """kit.yaml's target sections come from the registry (CloudSupport.options): kit/config.py
    imports no cloud's module, so a new target needs no line there."""
    text = (ROOT / "kit" / "config.py").read_text(encoding="utf-8")
    assert re.findall(r"stacks\.\w+", text) == []


def test_bucket_uri_literals_live_in_the_storage_backends_only():
    backends = {ROOT / "kit" / "data" / "storage.py", *(ROOT / "kit" / "data" / "stores").glob("*.py")}
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in (ROOT / "kit").rglob("*.py") if p not in backends
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if re.search(r"\b(s3|gs|az)://", line)]
    assert hits == []


@pytest.mark.parametrize("package", ["kit", "stacks"])
def test_no_module_past_400_lines(package):
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / package).rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def test_pulumis_entry_point_never_puts_stacks_first_on_sys_path():
    """`pulumi up` puts the program's folder first on sys.path: were it stacks/, the folders
    stacks/azure and stacks/kubernetes would be imported in place of the Azure SDKs and the
    kubernetes client. Pulumi.yaml names no `main`, so Pulumi runs the root __main__.py."""
    import yaml

    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert project.get("main", ".") in (".", "./")
    assert "stacks.program" in (ROOT / "__main__.py").read_text(encoding="utf-8")
    assert not (ROOT / "stacks" / "__main__.py").exists()


def test_every_relative_link_in_the_readme_resolves():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    relative = [link for link in links if not re.match(r"^[a-z]+:", link)]
    assert relative, "the README links no file: the check would prove nothing"
    assert [link for link in relative if not (ROOT / link).exists()] == []


def test_every_package_folder_is_a_package_the_wheel_ships():
    """setuptools' find_packages skips folders without __init__.py: they would be missing from
    an installed kit while every test in a checkout still passes."""
    from setuptools import find_packages

    shipped = set(find_packages(str(ROOT), include=["kit*", "stacks*"]))
    folders = {".".join(p.relative_to(ROOT).parts) for base in ("kit", "stacks")
               for p in [ROOT / base, *(ROOT / base).rglob("*")]
               if p.is_dir() and any(p.glob("*.py")) and "__pycache__" not in p.parts}
    assert folders - shipped == set()
