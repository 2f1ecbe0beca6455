"""`kit data validate --model ORG/NAME` (the README's command): the tokenizer files, and only
those, come through huggingface_hub from HF_ENDPOINT into .kit/models/hub; HF_TOKEN is sent;
HF_HUB_OFFLINE=1 uses the cache alone, and says so in one line when the cache lacks it. The hub
is tests/data/fake_hub.py on loopback, never a real one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.data.validate import validate
from tests.conftest import run_kit
from tests.data.fake_hub import FakeHub
from tests.data.test_validate import model_dir, pair, write  # noqa: F401  (fixture)

REPO = "acme/tiny-chat"


@pytest.fixture
def hub(model_dir):  # noqa: F811
    server = FakeHub()
    # weights beside the tokenizer: they must never be fetched for counting tokens
    server.add(REPO, model_dir, extra={"model.safetensors": b"\0" * 4096,
                                       "pytorch_model.bin": b"\0" * 64})
    server.add("acme/gated-chat", model_dir, token="hf_test_token")
    yield server
    server.close()


def _env(hub: FakeHub, tmp_path: Path, **more: str) -> dict[str, str]:
    return {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf-home"), "HF_TOKEN": "",
            "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1", **more}


def _data(tmp_path: Path) -> Path:
    return write(tmp_path / "my-data.jsonl",
                 [pair("what is an mri", "a scan the uses magnets to image tissue " * k)
                  for k in range(1, 6)])


def test_a_hub_id_fetches_only_tokenizer_files_into_the_kits_cache(tmp_path, hub, model_dir):  # noqa: F811
    data = _data(tmp_path)
    result = run_kit("data", "validate", str(data), "--model", REPO, "--output", "json",
                     cwd=tmp_path, env=_env(hub, tmp_path))
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)["stats"]
    local = validate(str(data), model_dir=str(model_dir))
    assert stats["tokens_exact"] is True
    assert stats["tokens"] == local.stats["tokens"]  # the same tokenizer, through the hub
    cache = tmp_path / ".kit" / "models" / "hub"
    assert stats["tokenizer"].startswith(str(cache))
    fetched = {path.rsplit("/", 1)[-1] for method, path, _ in hub.requests if "/resolve/" in path}
    assert "tokenizer.json" in fetched and "config.json" in fetched
    assert not fetched & {"model.safetensors", "pytorch_model.bin"}
    assert result.stderr == ""  # no progress bars

    # offline, the cache alone answers: no request reaches the hub
    before = len(hub.requests)
    again = run_kit("data", "validate", str(data), "--model", REPO, cwd=tmp_path,
                    env=_env(hub, tmp_path, HF_HUB_OFFLINE="1"))
    assert again.returncode == 0, again.stderr
    assert f"tokens (exact, {cache}" in again.stdout
    assert len(hub.requests) == before


def test_offline_with_nothing_cached_is_one_line(tmp_path, hub):
    result = run_kit("data", "validate", str(_data(tmp_path)), "--model", REPO, cwd=tmp_path,
                     env=_env(hub, tmp_path, HF_HUB_OFFLINE="1"))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: --model {REPO}@main: its tokenizer is not in the kit's model cache "
        f"({tmp_path / '.kit' / 'models' / 'hub'}) and HF_HUB_OFFLINE=1 forbids fetching it "
        "(hint: run once with the hub reachable, or pass a local model folder)"]
    assert hub.requests == []


def test_a_gated_model_needs_hf_token_and_an_unknown_one_is_one_line(tmp_path, hub):
    data = _data(tmp_path)
    denied = run_kit("data", "validate", str(data), "--model", "acme/gated-chat", cwd=tmp_path,
                     env=_env(hub, tmp_path))
    assert denied.returncode == 1 and "Traceback" not in denied.stderr
    assert denied.stderr.startswith("error: --model acme/gated-chat: not found or not accessible "
                                    "on the hub (GatedRepoError)")
    allowed = run_kit("data", "validate", str(data), "--model", "acme/gated-chat", cwd=tmp_path,
                      env=_env(hub, tmp_path, HF_TOKEN="hf_test_token"))
    assert allowed.returncode == 0, allowed.stderr
    assert ("GET", "/api/models/acme/gated-chat/revision/main", "Bearer hf_test_token") in hub.requests

    unknown = run_kit("data", "validate", str(data), "--model", "acme/nope", cwd=tmp_path,
                      env=_env(hub, tmp_path))
    assert unknown.returncode == 1 and len(unknown.stderr.splitlines()) == 1
    assert "acme/nope: not found or not accessible on the hub (RepositoryNotFoundError)" in unknown.stderr
