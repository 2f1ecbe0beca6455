"""One home per concept: the GPU types (kit/gpus.py), the layout of the kit's buckets
(kit/layout/buckets.py) and the names of its Kubernetes objects (kit/layout/kube_names.py) are
each declared once, and no code outside the trainer writes os.environ (a setting that only
holds if something else ran first in the process). Each check greps the source as it is, and a
canary proves its pattern still catches the literal it is there for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

GPU_TYPE = re.compile(r"""["'](a10g|l40s)["']""")
BUCKET_LAYOUT = re.compile(r"""["'](runs|builds)/["']|/(runs|builds)/\{|/\s*["']model["']|\+\s*["']model/""")
KUBE_NAME = re.compile(r"""\}-(finetune|server|stage|engine|api-keys|server-tls|endpoint-ca|model)["'-]""")
ENV_WRITE = re.compile(r"""os\.environ(\[[^\]]+\]\s*=[^=]|\.setdefault\(|\.update\(|\.pop\()|putenv\(""")


def sources(*tops: str, outside: tuple[str, ...] = ()) -> dict[str, str]:
    found = {}
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not rel.startswith(outside):
                found[rel] = path.read_text(encoding="utf-8")
    return found


def hits(pattern: re.Pattern[str], files: dict[str, str]) -> list[str]:
    return [f"{rel}:{n}" for rel, text in files.items()
            for n, line in enumerate(text.splitlines(), 1) if pattern.search(line.split("#", 1)[0])]


@pytest.mark.parametrize(("pattern", "old_literal"), [
    (GPU_TYPE, '"a10g": 12, "l40s": 48'),
    (BUCKET_LAYOUT, """f"{cluster.artifacts_uri.rstrip('/')}/runs/{run_id}/\""""),
    (BUCKET_LAYOUT, 'RUNS_PREFIX = "runs/"'),
    (BUCKET_LAYOUT, 'run_uri(cluster, run_id) + "model/"'),
    (BUCKET_LAYOUT, 'folder = store.dir(run.id) / "model"'),
    (KUBE_NAME, 'self.job_name = f"{cfg.name}-finetune"'),
    (KUBE_NAME, 'return f"{cfg.name}-model-{run_id}"'),
    (ENV_WRITE, 'os.environ[OWNERS_ENV] = json.dumps(owners)'),
    (ENV_WRITE, 'os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")'),
])
def test_each_pattern_catches_the_second_home_it_is_there_for(pattern, old_literal):
    assert pattern.search(old_literal)


def test_the_gpu_types_are_listed_in_one_file_of_neutral_code():
    listing = [rel for rel, text in sources("kit").items() if len(set(GPU_TYPE.findall(text))) == 2]
    assert listing == ["kit/gpus.py"]


def test_the_bucket_layout_is_declared_in_kit_layout_only():
    assert hits(BUCKET_LAYOUT, sources("kit", "stacks", outside=("kit/layout/",))) == []


def test_kubernetes_object_names_are_declared_in_kit_layout_only():
    assert hits(KUBE_NAME, sources("kit", "stacks", outside=("kit/layout/",))) == []


def test_nothing_outside_the_trainer_writes_the_process_environment():
    """The trainer sets up torch's process group (its own process, spawned for it)."""
    assert hits(ENV_WRITE, sources("kit", outside=("kit/trainer/",))) == []


def test_kit_yaml_accepts_exactly_the_gpu_types_of_the_table(tmp_path):
    """The allowed gpu.type values derive from the table: each one loads, a near miss is one
    line with a "did you mean"."""
    from kit.config import load
    from kit.errors import KitError
    from kit.gpus import TYPES

    def config(gpu_type: str) -> Path:
        path = tmp_path / "kit.yaml"
        path.write_text("name: acme-notes\ntarget: local\nmodel: {id: org/m}\n"
                        f"data: {{uri: ./d}}\ngpu: {{type: {gpu_type}}}\n")
        return path

    for gpu_type in TYPES:
        assert load(config(gpu_type)).gpu.type == gpu_type
    with pytest.raises(KitError) as err:
        load(config("h10"))
    assert "gpu.type: 'h10' is not allowed" in str(err.value)
    assert "did you mean 'h100'?" in str(err.value.hint)
