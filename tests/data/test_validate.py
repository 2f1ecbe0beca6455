"""Warnings (duplicates, length, short answers, size guidance, PHI/PII without values), stats
with a real tokenizer, the kit.yaml form, bucket URIs and the Python API the pipeline calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.data.fingerprint import dataset_fingerprint
from kit.data.validate import validate

TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> "
            "{% endfor %}")


def pair(q: str, a: str) -> dict:
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A real (tiny) tokenizer with a chat template, trained here: word-level, so counts are
    easy to reason about, and loaded through transformers exactly as a model's would be."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    words = "what is an mri scan uses magnets to image tissue word answer the a".split()
    tok.train_from_iterator([" ".join(words)] * 3, trainers.WordLevelTrainer(
        special_tokens=["[UNK]", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
    fast.chat_template = TEMPLATE
    folder = tmp_path_factory.mktemp("model")
    fast.save_pretrained(folder)
    (folder / "config.json").write_text('{"model_type": "llama"}')
    return folder


def test_warnings_name_lines_and_never_print_values(tmp_path):
    secret_email, secret_ssn = "jane.doe@example-hospital.org", "123-45-6789"
    records = [
        pair("What is an MRI scan?", "It uses magnets to image tissue."),            # 1
        pair("What is an MRI scan?", "It uses magnets to image tissue."),            # 2 exact dup
        pair("what is an mri scan", "It uses magnets, to image tissue!!"),           # 3 near dup
        pair("Is it safe?", "Yes."),                                                 # 4 short
        pair(f"Email {secret_email} re patient", "Noted, I will follow up today."),  # 5 email
        pair("Call me", f"SSN {secret_ssn}, phone (555) 123-4567, MRN: 00123456"),   # 6 ssn...
        pair("long " * 50, "word " * 30),                                            # 7 long
    ]
    report = validate(str(write(tmp_path / "d.jsonl", records)), max_length=64, phi="warn")
    assert report.ok and report.examples == 7
    by_kind: dict[str, list[str]] = {}
    for w in report.warnings:
        by_kind.setdefault(w.kind, []).append(str(w))
    f = tmp_path / "d.jsonl"
    assert by_kind["duplicate"] == [f"{f}:2: exact duplicate of line 1", f"{f}:3: near duplicate of line 1"]
    assert by_kind["short"] == [f"{f}:4: very short answer in message 2 (1 word)"]
    assert by_kind["phi"] == [
        f"{f}:5: likely PHI: email address at columns 50-78 (message 1, user)",
        f"{f}:6: likely PHI: SSN at columns 89-103 (message 2, assistant); phone number at "
        "columns 112-125 (message 2, assistant); MRN-like identifier at columns 128-140 "
        "(message 2, assistant)"]
    assert by_kind["too-long"] == [f"{f}:7: about 109 tokens, longer than max length 64: "
                                   "about 45 tokens get cut"]  # (250+150 chars)/4 + 4 a turn
    assert by_kind["size"] == [f"{f}: only 7 usable examples; LIMA aligned a model with ~1,000 "
                               "curated examples: add more high-quality, diverse ones"]
    text = json.dumps(report.to_dict())
    for secret in (secret_email, secret_ssn, "555", "00123456"):
        assert secret not in text
    assert report.stats["duplicates"] == {"exact": 1, "near": 1}
    assert report.stats["phi"] == {"policy": "warn", "examples": 2, "findings": {
        "MRN-like identifier": 1, "SSN": 1, "email address": 1, "phone number": 1}}
    assert report.stats["tokens_exact"] is False


def test_stats_use_the_real_tokenizer_and_template(tmp_path, model_dir):
    from transformers import AutoTokenizer

    records = [pair("what is an mri", "a scan the uses magnets to image tissue " * k) for k in range(1, 11)]
    report = validate(str(write(tmp_path / "d.jsonl", records)), model_dir=str(model_dir),
                      max_length=40, epochs=3)
    tok = AutoTokenizer.from_pretrained(model_dir)
    lengths = sorted(len(tok(tok.apply_chat_template(r["messages"], tokenize=False),
                             add_special_tokens=False)["input_ids"]) for r in records)
    s = report.stats
    assert s["tokens_exact"] is True and s["tokenizer"] == str(model_dir)
    assert s["tokens"]["total"] == sum(lengths) and s["tokens"]["max"] == lengths[-1]
    assert s["tokens"]["p50"] == lengths[4] and s["tokens"]["p90"] == lengths[8]
    assert s["train_tokens_per_epoch"] == sum(min(n, 40) for n in lengths)
    assert s["train_tokens_total"] == 3 * s["train_tokens_per_epoch"]
    long = [n for n in lengths if n > 40]
    assert s["truncated_examples"] == len(long) and s["tokens_cut"] == sum(n - 40 for n in long)
    first_long = next(w for w in report.warnings if w.kind == "too-long")
    assert "about" not in first_long.message


def test_size_guidance_for_large_sets(tmp_path):
    records = [pair(f"question number {i} about topic {i * 7}?", f"answer {i} is long enough here")
               for i in range(20_001)]
    report = validate(str(write(tmp_path / "big.jsonl", records)))
    size = [w for w in report.warnings if w.kind == "size"]
    assert len(size) == 1 and "20,001 examples; LIMA showed ~1,000" in size[0].message
    assert report.stats["duplicates"] == {"exact": 0, "near": 0}  # numbers tell examples apart


def test_kit_yaml_form_resolves_data_uri_against_its_folder(tmp_path, kit, model_dir):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    write(project / "data" / "train.jsonl", [pair("what is an mri", "a scan the uses magnets")])
    (project / "kit.yaml").write_text(
        f"name: demo\nmodel:\n  id: {model_dir}\ndata:\n  uri: data/train.jsonl\n"
        "training:\n  max_length: 128\n  epochs: 2\n")
    proc = kit("data", "validate", "-f", str(project / "kit.yaml"), "-o", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["examples"] == 1 and out["errors"] == []
    assert out["stats"]["max_length"] == 128 and out["stats"]["epochs"] == 2
    assert out["stats"]["tokens_exact"] is True  # model.id is a local folder: its tokenizer counts
    text = kit("data", "validate", "-f", str(project / "kit.yaml"), cwd=tmp_path)
    assert text.returncode == 0 and "1 examples in 1 file(s), 0 errors" in text.stdout

    bad = kit("data", "validate", "-f", str(tmp_path / "missing.yaml"))
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr


def test_bucket_uri_is_staged_and_named_by_uri(s3, tmp_path):
    from kit.data.sync import sync

    src = tmp_path / "src"
    src.mkdir()
    write(src / "a.jsonl", [pair("q one here", "an answer that is fine"), {"messages": "x"}])
    sync(str(src), s3.uri)
    report = validate(s3.uri)
    assert [str(e) for e in report.errors] == [f"{s3.uri}/a.jsonl:2: 'messages' must be a list, got string"]
    assert dataset_fingerprint(s3.uri) == dataset_fingerprint(str(src)) == dataset_fingerprint(
        str(src / "a.jsonl"))
