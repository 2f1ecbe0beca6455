"""The demo smoke-test model: deterministic, loadable, with the kit's ChatML template."""

from __future__ import annotations

import hashlib

from transformers import AutoModelForCausalLM, AutoTokenizer

from kit.local.demo_model import CORPUS, build_tiny_llama
from kit.trainer import chat


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_other_weights(tmp_path):
    shape = {"hidden_size": 32, "num_layers": 1, "vocab_size": 512}
    a = _digest(build_tiny_llama(tmp_path / "a", seed=1, **shape))
    b = _digest(build_tiny_llama(tmp_path / "b", seed=1, **shape))
    c = _digest(build_tiny_llama(tmp_path / "c", seed=2, **shape))
    assert a == b
    assert a["model.safetensors"] != c["model.safetensors"] and a["tokenizer.json"] == c["tokenizer.json"]


def test_loads_and_speaks_chatml(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert model.config.model_type == "llama" and model.config.vocab_size == len(tok)
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert tok.chat_template == chat.strip_markers(chat.kit_templates()["chatml.jinja"])
    text = tok.apply_chat_template([{"role": "user", "content": "Hello"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
    # the clinical-admin vocabulary is learned as whole tokens, not bytes
    for phrase in (" prior authorization", " SOAP note", " CPT codes", " medical necessity"):
        assert len(tok.tokenize(phrase)) == 2, phrase
    assert "SOAP note" in CORPUS and "CPT" in CORPUS and len(CORPUS) > 3000
