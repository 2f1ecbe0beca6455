"""Every accepted format reads into the same canonical messages; every malformed file gets its
exact one-line error with file and line, and no traceback reaches the user."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kit.data.formats import DataError, data_files, iter_examples, read_file
from kit.data.validate import validate

CONVERSATION = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "What is an MRI?"},
                {"role": "assistant", "content": "A scan that uses magnets to image tissue."}]
PAIR = [{"role": "user", "content": "What is an MRI?"},
        {"role": "assistant", "content": "A scan that uses magnets to image tissue."}]


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_every_format_reads_into_canonical_messages(tmp_path):
    write_jsonl(tmp_path / "chat.jsonl", [{"messages": CONVERSATION}])
    write_jsonl(tmp_path / "pairs.jsonl", [
        {"prompt": "What is an MRI?", "response": "A scan that uses magnets to image tissue."},
        {"instruction": "What is an MRI?", "input": "",
         "output": "A scan that uses magnets to image tissue."},
        {"instruction": "Define:", "input": "MRI", "output": "Magnetic resonance imaging."},
        {"system": "Be brief.", "prompt": "What is an MRI?",
         "response": "A scan that uses magnets to image tissue."}])
    write_jsonl(tmp_path / "share.jsonl", [{"conversations": [
        {"from": "system", "value": "Be brief."}, {"from": "human", "value": "What is an MRI?"},
        {"from": "gpt", "value": "A scan that uses magnets to image tissue."}]}])
    (tmp_path / "table.csv").write_text(
        'prompt,response\n"What is an MRI?","A scan that uses magnets\nto image tissue."\n'
        "\n"
        "Second?,Yes indeed it is.\n", encoding="utf-8")
    pq.write_table(pa.Table.from_pylist([{"messages": CONVERSATION}]), tmp_path / "chat.parquet")
    pq.write_table(pa.Table.from_pylist([{"prompt": "What is an MRI?",
                                         "response": "A scan that uses magnets to image tissue."}]),
                   tmp_path / "pairs.parquet")
    (tmp_path / ".hidden.jsonl").write_text("not data")
    (tmp_path / "notes.txt").write_text("ignored: not a data suffix")

    examples = {(Path(e.source).name, e.line): e.messages for e in iter_examples(tmp_path)}
    assert [f.name for f in data_files(tmp_path)] == [
        "chat.jsonl", "chat.parquet", "pairs.jsonl", "pairs.parquet", "share.jsonl", "table.csv"]
    assert examples[("chat.jsonl", 1)] == CONVERSATION
    assert examples[("share.jsonl", 1)] == CONVERSATION
    assert examples[("chat.parquet", 1)] == CONVERSATION
    assert examples[("pairs.jsonl", 1)] == PAIR == examples[("pairs.jsonl", 2)]
    assert examples[("pairs.jsonl", 3)][0]["content"] == "Define:\n\nMRI"
    assert examples[("pairs.jsonl", 4)] == CONVERSATION
    assert examples[("pairs.parquet", 1)] == PAIR
    assert examples[("table.csv", 2)][1]["content"] == "A scan that uses magnets\nto image tissue."
    assert ("table.csv", 5) in examples  # line numbers count the multi-line cell and blank row
    assert len(examples) == 10


def test_every_question_answer_pair_reads_including_trl_prompt_completion(tmp_path):
    """Each listed pair, and TRL's prompt-completion in its standard and conversational forms
    (https://huggingface.co/docs/trl/dataset_formats, read 2026-12-07)."""
    ask, answer = PAIR[0]["content"], PAIR[1]["content"]
    records = [{"prompt": ask, "response": answer}, {"prompt": ask, "completion": answer},
               {"instruction": ask, "output": answer}, {"question": ask, "answer": answer},
               {"prompt": [PAIR[0]], "completion": [PAIR[1]]},
               {"prompt": CONVERSATION[:2], "completion": CONVERSATION[2:]}]
    file = write_jsonl(tmp_path / "pairs.jsonl", records)
    got = [item for item in read_file(file)]
    assert [getattr(e, "messages", str(e)) for e in got] == [PAIR] * 5 + [CONVERSATION]
    (tmp_path / "trl.csv").write_text(f'prompt,completion\n"{ask}","{answer}"\n', encoding="utf-8")
    assert [e.messages for e in iter_examples(tmp_path / "trl.csv")] == [PAIR]


def _corpus(root: Path) -> dict[str, str]:
    """One malformed file per failure mode -> the exact error line expected for it."""
    good = json.dumps({"messages": PAIR})
    files = {
        "invalid_json.jsonl": (f'{good}\n{{"messages": [}}\n', 2, "invalid JSON: Expecting value (column 15)"),
        "not_object.jsonl": ("[1, 2]\n", 1, "expected a JSON object, got array"),
        "messages_not_list.jsonl": ('{"messages": "hello"}\n', 1, "'messages' must be a list, got string"),
        "missing_role.jsonl": (f'{good}\n{good}\n' + json.dumps({"messages": [{"content": "hi"}]}) + "\n",
                               3, "message 1 has no 'role'"),
        "unknown_role.jsonl": (json.dumps({"messages": [PAIR[0], {"role": "bot", "content": "x"}]}) + "\n",
                               1, "message 2 has unknown role 'bot' (expected one of system, user, assistant)"),
        "empty_content.jsonl": (json.dumps({"messages": [PAIR[0], {"role": "assistant", "content": "  "}]}) + "\n",
                                1, "message 2 (assistant) has empty content"),
        "no_assistant.jsonl": (json.dumps({"messages": [CONVERSATION[0], PAIR[0]]}) + "\n",
                               1, "no assistant turn"),
        "bad_order.jsonl": (json.dumps({"messages": [PAIR[0], PAIR[0], PAIR[1]]}) + "\n", 1,
                            "bad turn order: message 2 is 'user' but follows 'user' "
                            "(expected 'assistant'; turns alternate user/assistant)"),
        "not_utf8.jsonl": (f"{good}\n{good}\n".encode() + b'{"messages": "caf\xe9"}\n', 3,
                           "not UTF-8: invalid byte 0xe9 at column 18"),
        "binary.jsonl": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 3,
                         "binary content (NUL bytes): not a text data file"),
        "empty.jsonl": ("", 1, "empty file: no examples"),
        "blank_lines.jsonl": ("\n\n  \n", 1, "empty file: no examples"),
        "control_chars.jsonl": (json.dumps({"messages": [PAIR[0], {"role": "assistant", "content": "a\x07b"}]}) + "\n",
                                1, "message 2 (assistant) has binary content (control characters)"),
        "sharegpt_speaker.jsonl": (json.dumps({"conversations": [{"from": "human", "value": "q"},
                                                                  {"from": "robot", "value": "a"}]}) + "\n",
                                   1, "turn 2 has unknown speaker 'robot' (expected one of assistant, "
                                      "bard, bing, chatgpt, gpt, human, model, system, user)"),
        "unknown_fields.jsonl": ('{"text": "hello"}\n', 1, "no known fields: expected 'messages', "
                                 "'conversations', 'prompt'/'response', 'prompt'/'completion', "
                                 "'instruction'/'output', 'question'/'answer' (found: text)"),
        "prompt_only.jsonl": ('{"prompt": "q"}\n', 1, "has 'prompt' but no 'response' or 'completion'"),
        "output_only.jsonl": ('{"output": "a"}\n', 1, "has 'output' but no 'instruction'"),
        "missing_response.csv": ("prompt,response\nq1,a1 is fine\nq2,\n", 3, "message 2 (assistant) has empty content"),
        "ragged.csv": ("prompt,response\nq1,a1,extra\n", 2, "expected 2 columns, got 3"),
        "not_utf8.csv": (b"prompt,response\nq,\xff\n", 2, "not UTF-8: invalid byte 0xff at column 3"),
        "not_parquet.parquet": ("plain text", 1, None),
    }
    expected = {}
    for name, (body, line, message) in files.items():
        path = root / name
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
        expected[name] = f"{path}:{line}: {message}" if message else f"{path}:{line}: not a Parquet file"
    return expected


def test_each_malformed_file_gets_its_exact_error(tmp_path):
    expected = _corpus(tmp_path)
    for name, line in expected.items():
        problems = [str(p) for p in read_file(tmp_path / name) if not hasattr(p, "messages")]
        assert len(problems) == 1, (name, problems)
        assert problems[0].startswith(line), (name, problems[0], line)
        with pytest.raises(DataError) as err:
            list(iter_examples(tmp_path / name))
        assert err.value.message.startswith(line)
    report = validate(str(tmp_path))
    assert len(report.errors) == len(expected)
    assert report.examples == 6  # the good lines around the bad ones still count


def test_cli_prints_each_error_on_one_line_without_traceback(tmp_path, kit):
    expected = _corpus(tmp_path)
    proc = kit("data", "validate", str(tmp_path))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    for name, line in expected.items():
        path, _, rest = line.partition(f"{tmp_path / name}:")
        number, _, message = rest.partition(": ")
        want = f"{tmp_path / name}:{number}: error: {message}"
        assert any(out.startswith(want) for out in lines), (want, proc.stdout)
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stdout + proc.stderr

    as_json = json.loads(kit("data", "validate", str(tmp_path), "-o", "json").stdout)
    assert {e["file"] for e in as_json["errors"]} == {str(tmp_path / n) for n in expected}
    assert set(as_json) >= {"examples", "errors", "warnings", "stats"}


def test_missing_path_is_one_line(tmp_path, kit):
    proc = kit("data", "validate", str(tmp_path / "nope.jsonl"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"error: {tmp_path / 'nope.jsonl'}: no such file or folder "
                                   "(hint: check data.uri in kit.yaml)")
