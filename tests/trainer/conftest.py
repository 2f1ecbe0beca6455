"""Fixtures for the trainer tests: tiny Llama models built on the fly and small chat data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.trainer.helpers import TINY, conversations, write_jsonl


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The demo smoke-test model (ChatML template) in a test shape."""
    from kit.local.demo_model import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("models") / "tiny", seed=0, **TINY)


@pytest.fixture(scope="session")
def base_model_no_template(tmp_path_factory, tiny_model) -> Path:
    """The same weights and tokenizer, without a chat template: a 'base model'."""
    import shutil

    out = tmp_path_factory.mktemp("models") / "base"
    shutil.copytree(tiny_model, out)
    (out / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((out / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (out / "tokenizer_config.json").write_text(json.dumps(config))
    return out


@pytest.fixture
def data_file(tmp_path) -> Path:
    return write_jsonl(tmp_path / "data.jsonl", conversations(40))
