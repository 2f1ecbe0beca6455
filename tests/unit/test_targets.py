"""Every target is registered, local included (kit.targets): what each can do is its support
object's data, what it cannot do a Lacks (the one-line error a command gives), and kit.yaml's
target sections come from the registry, so a new target needs no line in neutral code."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import get_args

import pytest

from tests.conftest import run_kit

ROOT = Path(__file__).resolve().parents[2]
SDKS = ("pulumi", "pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "boto3", "google.cloud",
        "azure", "kubernetes", "helm_python")


def python(code: str, *paths: Path) -> str:
    """Run `code` in a fresh interpreter (with `paths` first on sys.path); its stdout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, paths), str(ROOT)])}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_every_target_kit_yaml_accepts_has_a_support_object_local_too():
    from kit.config import KitConfig
    from kit.targets import support_for

    accepted = get_args(KitConfig.model_fields["target"].annotation)
    assert "local" in accepted
    assert {name: support_for(name).target for name in accepted} == {n: n for n in accepted}


def test_a_new_targets_options_become_its_kit_yaml_section(tmp_path):
    """A target's folder and one registry line are all it takes: its options class (named in
    CloudSupport.options) is validated as kit.yaml's section of its name, with the same
    one-line errors and hints as every other section."""
    folder = tmp_path / "moonbase"
    folder.mkdir()
    (folder / "__init__.py").write_text(textwrap.dedent("""
        from stacks.clouds import CloudSupport, lazy

        SUPPORT = CloudSupport(target="moonbase", extra="kubernetes", modules=(),
                               build="moonbase.stack:build",
                               default_outputs=lazy("moonbase.stack:default_outputs"),
                               options="moonbase.options:MoonOptions", needs_region=False)
        """), encoding="utf-8")
    (folder / "options.py").write_text(textwrap.dedent("""
        from pydantic import BaseModel, ConfigDict

        class MoonOptions(BaseModel):
            model_config = ConfigDict(extra="forbid")
            crater: str = "tycho"
        """), encoding="utf-8")
    out = python("""
        from stacks import clouds
        clouds.REGISTRY["moonbase"] = "moonbase"
        from kit.config import parse
        from kit.errors import KitError

        base = {"name": "acme", "target": "moonbase", "model": {"id": "org/model"},
                "data": {"uri": "d.jsonl"}, "storage": {}}
        print(parse({**base, "moonbase": {"crater": "copernicus"}}).moonbase.crater)
        try:
            parse({**base, "moonbase": {"cratr": "copernicus"}})
        except KitError as exc:
            print(exc.one_line())
        """, tmp_path)
    lines = out.splitlines()
    assert lines[0] == "copernicus"
    assert "moonbase.cratr: unknown key" in lines[1] and "did you mean 'crater'?" in lines[1]


def test_a_cloud_config_loads_without_importing_any_sdk():
    """The registry imports every support object to build kit.yaml's sections: plain data, so
    validating a cloud's kit.yaml stays fast and works without the cloud's extra."""
    out = python(f"""
        import sys
        from kit.config import parse

        cfg = parse({{"name": "acme", "target": "gcp", "region": "us-central1",
                     "model": {{"id": "org/model"}}, "data": {{"uri": "gs://acme-data/notes"}},
                     "gcp": {{"project": "acme-ml-prod", "accept_no_perimeter": "a test of imports"}}}})
        print(cfg.gcp.project, [m for m in {SDKS!r} if m in sys.modules])
        """)
    assert out.strip() == "acme-ml-prod []"


@pytest.mark.parametrize("target, model, more", [
    ("local", "demo:tiny-llama", ""),
    ("kubernetes", "org/model", "storage:\n  artifacts_uri: az://acmekit/runs\n  models_uri: az://acmekit/models\n"
                                "kubernetes:\n  context: my-cluster\n"),
])
def test_a_target_without_a_price_catalog_says_so_in_one_line(tmp_path, target, model, more):
    config = tmp_path / "kit.yaml"
    config.write_text(f"name: acme\ntarget: {target}\nmodel:\n  id: {model}\ndata:\n  uri: d.jsonl\n"
                      + more, encoding="utf-8")
    result = run_kit("prices", "update", "-f", str(config))
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"target {target}: no cloud price catalog" in result.stderr
    assert "gpu.usd_per_hour" in result.stderr


@pytest.mark.parametrize("command", [("train", "--detach"), ("up", "--detach", "--yes")])
def test_detach_on_a_target_that_trains_in_the_foreground_is_one_line(tmp_path, command):
    config = tmp_path / "kit.yaml"
    config.write_text("name: acme\ntarget: local\nmodel:\n  id: demo:tiny-llama\ndata:\n"
                      "  uri: d.jsonl\n", encoding="utf-8")
    result = run_kit(*command, "-f", str(config))
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "--detach: the local target trains in the foreground" in result.stderr
    assert not (tmp_path / ".kit").exists()      # refused before anything was made
