"""The CLI as a user runs it: fast help, one-line errors, exit codes, `kit init`."""

from __future__ import annotations

import subprocess
import sys

import yaml

from tests.conftest import free_port, run_kit

HEAVY = ("torch", "transformers", "pulumi", "boto3", "kubernetes", "google.cloud", "azure",
         "helm_python", "pydantic", "rich", "huggingface_hub")


def test_help_imports_nothing_heavy():
    code = ("import sys; sys.argv=['kit','--help']\n"
            "from kit.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
            "print('LOADED', loaded)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "LOADED []" in out.stdout, out.stdout
    for name in ("init", "up", "down", "status", "runs", "logs", "chat"):
        assert f"  {name} " in out.stdout


def test_bad_config_is_one_line_exit_1(tmp_path):
    (tmp_path / "kit.yaml").write_text(
        "name: demo\ntarget: local\nmodel:\n  id: demo:tiny-llama\ndata:\n  uri: d.jsonl\n"
        "training:\n  learning_rat: 0.1\n")
    result = run_kit("status", "-f", str(tmp_path / "kit.yaml"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "kit.yaml:8: training.learning_rat: unknown key" in result.stderr
    assert "did you mean 'learning_rate'?" in result.stderr


def test_unknown_target_and_missing_file(tmp_path):
    (tmp_path / "kit.yaml").write_text(
        "name: demo\ntarget: moon\nmodel:\n  id: x\ndata:\n  uri: d.jsonl\n")
    result = run_kit("up", "-f", str(tmp_path / "kit.yaml"), "--yes")
    assert result.returncode == 1 and "target: 'moon' is not allowed" in result.stderr
    result = run_kit("up", "-f", str(tmp_path / "absent.yaml"))
    assert result.returncode == 1 and "absent.yaml: no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_data_file_names_the_key(tmp_path):
    (tmp_path / "kit.yaml").write_text(
        "name: demo\nmodel:\n  id: demo:tiny-llama\ndata:\n  uri: nowhere.jsonl\n"
        f"serving:\n  port: {free_port()}\n")   # the serve port is checked first; 8080 may be taken
    result = run_kit("up", "-f", str(tmp_path / "kit.yaml"), "--yes")
    assert result.returncode == 1
    assert "error: data.uri: nowhere.jsonl: no such file" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / ".kit" / "demo" / "runs").exists()  # nothing started


def test_debug_shows_the_traceback(tmp_path):
    result = run_kit("status", "-f", str(tmp_path / "absent.yaml"), "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_init_writes_a_valid_commented_config(tmp_path):
    target = tmp_path / "proj" / "kit.yaml"
    result = run_kit("init", "-f", str(target), "--target", "aws", "--model",
                     "meta-llama/Llama-3.1-8B-Instruct", "--data", "s3://acme/sft/",
                     "--operator-cidr", "203.0.113.7/32")     # given: no address lookup
    assert result.returncode == 0, result.stderr
    text = target.read_text()
    assert "# " in text and "egress: false" in text
    raw = yaml.safe_load(text)
    assert raw["name"] == "proj" and raw["target"] == "aws" and raw["region"] == "us-east-1"
    assert raw["network"]["operator_cidrs"] == ["203.0.113.7/32"]
    again = run_kit("init", "-f", str(target))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_init_local_config_loads(tmp_path):
    result = run_kit("init", "-f", str(tmp_path / "kit.yaml"))
    assert result.returncode == 0, result.stderr
    from kit.config import load

    cfg = load(tmp_path / "kit.yaml")
    assert cfg.target == "local" and cfg.model.id == "demo:tiny-llama"


def test_status_json_before_anything_ran(tmp_path):
    (tmp_path / "kit.yaml").write_text(
        "name: demo\nmodel:\n  id: demo:tiny-llama\ndata:\n  uri: d.jsonl\n")
    result = run_kit("status", "-f", str(tmp_path / "kit.yaml"), "--output", "json")
    assert result.returncode == 0, result.stderr
    import json

    info = json.loads(result.stdout)
    assert info["endpoint"] is None and info["healthy"] is False and info["run_id"] is None
    assert info["phases"] == {}
