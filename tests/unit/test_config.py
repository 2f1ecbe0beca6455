"""kit.yaml loading: defaults are safe, and every mistake is one line naming path and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kit.config import load
from kit.errors import KitError

GOOD = """\
name: acme-notes
target: local
model:
  id: demo:tiny-llama
data:
  uri: data.jsonl
training:
  method: lora
  epochs: 3
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kit.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(KitError) as info:
        load(write(tmp_path, text))
    line = info.value.one_line()
    assert "\n" not in line
    return line


def test_defaults_are_private_and_safe(tmp_path):
    cfg = load(write(tmp_path, GOOD))
    assert cfg.network.egress is False
    assert cfg.network.operator_cidrs == []
    assert cfg.serving.engine == "transformers"  # local default
    assert cfg.training.max_length == 2048
    assert cfg.workdir.root == tmp_path / ".kit" / "acme-notes"
    assert cfg.resolve_path("data.jsonl") == tmp_path / "data.jsonl"
    assert cfg.resolve_path("s3://bucket/x") is None
    assert cfg.state_url.startswith("file://")


def test_cluster_targets_default_to_tgi(tmp_path):
    cfg = load(write(tmp_path, GOOD.replace("target: local", "target: aws\nregion: us-east-1")
                     .replace("demo:tiny-llama", "meta-llama/Llama-3.1-8B-Instruct")))
    assert cfg.serving.engine == "tgi"


def test_unknown_key_names_path_line_and_suggests(tmp_path):
    line = error_of(tmp_path, GOOD.replace("  epochs: 3", "  epoch: 3"))
    assert "kit.yaml:9: training.epoch: unknown key" in line
    assert "did you mean 'epochs'?" in line


def test_unknown_top_level_key(tmp_path):
    line = error_of(tmp_path, GOOD + "serve:\n  engine: tgi\n")
    assert "kit.yaml:10: serve: unknown key" in line and "'serving'" in line


def test_wrong_type_names_key_and_value(tmp_path):
    line = error_of(tmp_path, GOOD.replace("epochs: 3", "epochs: many"))
    assert "kit.yaml:9: training.epochs:" in line and "'many'" in line


def test_unknown_target_suggests(tmp_path):
    line = error_of(tmp_path, GOOD.replace("target: local", "target: locl"))
    assert "kit.yaml:2: target: 'locl' is not allowed" in line and "did you mean 'local'?" in line


def test_missing_required_key(tmp_path):
    line = error_of(tmp_path, GOOD.replace("data:\n  uri: data.jsonl\n", ""))
    assert ": data: required key is missing" in line


def test_cloud_target_needs_region(tmp_path):
    line = error_of(tmp_path, GOOD.replace("target: local", "target: aws")
                    .replace("demo:tiny-llama", "meta-llama/Llama-3.1-8B-Instruct"))
    assert "region: required for target aws" in line


def test_every_broken_target_rule_is_listed_too(tmp_path):
    with pytest.raises(KitError) as info:
        load(write(tmp_path, GOOD.replace("target: local", "target: aws")
                   + "serving:\n  engine: transformers\n"))
    path = tmp_path / "kit.yaml"
    assert info.value.one_line().splitlines() == [
        f"{path}: 3 problems, one a line:",
        f"{path}:1: region: required for target aws",
        f"{path}:4: model.id: demo:tiny-llama is a demo model for target local only",
        f"{path}:11: serving.engine: 'transformers' is for target local; use tgi or vllm"]


def test_a_target_without_its_cloud_folder_is_one_line(tmp_path, monkeypatch):
    from stacks import clouds

    # Every target kit.yaml names has its folder now: take one out of the registry.
    monkeypatch.setattr(clouds, "REGISTRY", {k: v for k, v in clouds.REGISTRY.items() if k != "azure"})
    line = error_of(tmp_path, GOOD.replace("target: local", "target: azure"))
    assert "kit.yaml:2: target: azure is not supported by this version of lima-kit" in line


def test_world_open_operator_cidr_is_refused(tmp_path):
    line = error_of(tmp_path, GOOD + "network:\n  operator_cidrs: ['0.0.0.0/0']\n")
    assert "network.operator_cidrs" in line and "whole internet" in line


def test_invalid_yaml_cites_line(tmp_path):
    line = error_of(tmp_path, GOOD + "serving: [unclosed\n")
    assert "invalid YAML" in line and "kit.yaml:" in line


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(KitError, match="no such file"):
        load(tmp_path / "nope.yaml")
    with pytest.raises(KitError, match="empty"):
        load(write(tmp_path, ""))


def test_aws_existing_vpc_needs_subnets(tmp_path):
    base = GOOD.replace("target: local", "target: aws\nregion: eu-west-1").replace(
        "demo:tiny-llama", "org/model")
    line = error_of(tmp_path, base + "aws:\n  vpc_id: vpc-0123456789abcdef0\n")
    assert "kit.yaml:12: aws.vpc_id: an existing VPC needs both vpc_id and subnet_ids" in line
    cfg = load(write(tmp_path, base + "aws:\n  vpc_id: vpc-0123456789abcdef0\n"
                     "  subnet_ids: [subnet-1, subnet-2]\n"))
    assert cfg.aws.vpc_id == "vpc-0123456789abcdef0" and cfg.aws.az_count == 3


@pytest.mark.parametrize("cidrs", [["0.0.0.0/1", "128.0.0.0/1"], ["52.0.0.0/8"],
                                   [f"{a}.0.0.0/16" for a in range(20, 22)]])
def test_operator_cidrs_that_open_the_api_to_much_of_the_internet_are_refused(tmp_path, cidrs):
    line = error_of(tmp_path, GOOD + f"network:\n  operator_cidrs: {cidrs}\n")
    assert ": network.operator_cidrs: " in line and "operators' own addresses" in line


def test_private_and_narrow_public_operator_cidrs_are_fine(tmp_path):
    cfg = load(write(tmp_path, GOOD + "network:\n  operator_cidrs: [10.0.0.0/8, 203.0.113.0/24]\n"))
    assert cfg.network.operator_cidrs == ["10.0.0.0/8", "203.0.113.0/24"]


@pytest.mark.parametrize("namespace,problem", [("kube-system", "is a system namespace"),
                                               ("default", "is a system namespace"),
                                               ("Lima_Kit", "should match pattern")])
def test_the_kits_namespace_is_a_dns_name_and_never_a_system_one(tmp_path, namespace, problem):
    line = error_of(tmp_path, GOOD + f"kubernetes:\n  namespace: {namespace}\n")
    assert ": kubernetes.namespace: " in line and problem in line


def test_every_problem_is_listed_at_once_each_on_its_own_line_with_the_misspelt_key(tmp_path):
    """Like pip's resolver errors: all of them, each `file:LINE: yaml.path: problem (hint)`."""
    from tests.conftest import run_kit

    path = write(tmp_path, GOOD.replace("model:", "modle:").replace("training:", "trainin:")
                 + "gpu:\n  count: many\n")
    result = run_kit("plan", "--offline", "-f", str(path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"error: {path}: 4 problems, one a line:",
        f"{path}:1: model: required key is missing (hint: is 'modle' a misspelling of it?)",
        f"{path}:3: modle: unknown key (hint: did you mean 'model'?)",
        f"{path}:7: trainin: unknown key (hint: did you mean 'training'?)",
        f"{path}:11: gpu.count: Input should be a valid integer, unable to parse string as an "
        "integer, got 'many'"]


def test_a_single_problem_stays_one_line_without_a_count(tmp_path):
    line = error_of(tmp_path, GOOD.replace("  epochs: 3", "  epoch: 3"))
    assert line == (f"{tmp_path / 'kit.yaml'}:9: training.epoch: unknown key "
                    "(hint: did you mean 'epochs'?)")
