"""Captured output (CI logs, `| tee`, files) stays copyable: no progress bars, no line broken at
80 columns, and suggested commands name the kit as the user ran it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kit.config import load
from kit.recorded import remember
from tests.conftest import ROOT, run_kit

CONFIG = "name: ward\ntarget: local\nmodel:\n  id: demo:tiny-llama\ndata:\n  uri: data.jsonl\n"


def test_a_long_path_is_printed_whole_when_output_is_captured(tmp_path):
    deep = tmp_path / ("a-folder-with-a-long-name-" * 3) / "and-another-level-of-folders"
    deep.mkdir(parents=True)
    (deep / "kit.yaml").write_text(CONFIG)
    remember(load(deep / "kit.yaml"))             # a deployment to tear down
    where = str(deep / ".kit" / "ward")
    assert len(where) > 120
    result = run_kit("down", "--purge", "--yes", "-f", str(deep / "kit.yaml"), cwd=deep)
    assert result.returncode == 0, result.stderr
    assert f"  removed {where}" in result.stdout.splitlines()


def kit_script(folder: Path) -> Path:
    """An entry-point script like the one pip writes to .venv/bin/kit."""
    script = folder / "venv-bin" / "kit"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom kit.cli import main\n"
                      "sys.exit(main())\n")
    script.chmod(0o755)
    return script


def test_suggested_commands_name_the_kit_the_user_ran(tmp_path):
    script = kit_script(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    bare_path = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                if not (Path(p) / "kit").exists())
    relative = os.path.relpath(script, tmp_path)          # as typed after `make quickstart`
    typed = subprocess.run([relative, "init", "-f", "a.yaml"], cwd=tmp_path, text=True,
                           capture_output=True, env={**env, "PATH": bare_path})
    assert typed.returncode == 0, typed.stderr
    assert typed.stdout.strip() == f"wrote a.yaml; next: {relative} up -f a.yaml"
    on_path = subprocess.run(["kit", "init", "-f", "b.yaml"], cwd=tmp_path, text=True,
                             capture_output=True,
                             env={**env, "PATH": f"{script.parent}{os.pathsep}{bare_path}"})
    assert on_path.returncode == 0, on_path.stderr
    assert on_path.stdout.strip() == "wrote b.yaml; next: kit up -f b.yaml"


BUILD = """
import sys
from pathlib import Path
if sys.argv[2] == "kit":
    from kit.local.demo_model import build_tiny_llama
    build_tiny_llama(Path(sys.argv[1]), seed=0, hidden_size=64, num_layers=2, num_heads=4, init_std=0.1)
else:   # the same save through transformers alone
    from transformers import LlamaConfig, LlamaForCausalLM
    LlamaForCausalLM(LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                 num_attention_heads=4, num_key_value_heads=4)).save_pretrained(sys.argv[1])
import os
print(os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS"))
"""


def test_no_library_progress_bars_in_captured_output(tmp_path):
    """Where the kit uses huggingface_hub or transformers with stderr not a terminal, it turns
    their tqdm bars off through the library's own switch (the same save through transformers
    alone shows one), and leaves the process environment as it was."""
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_PROGRESS_BARS"}
    env["PYTHONPATH"] = str(ROOT)
    runs = {how: subprocess.run([sys.executable, "-c", BUILD, str(tmp_path / how), how],
                                capture_output=True, text=True, env=env, timeout=300)
            for how in ("kit", "bare")}
    assert all(r.returncode == 0 for r in runs.values()), runs
    assert "Writing model shards" in runs["bare"].stderr          # the bar a user saw
    assert "Writing model shards" not in runs["kit"].stderr and "it/s" not in runs["kit"].stderr
    assert runs["kit"].stdout.strip() == "None"
