"""Likely PHI (kit.data.phi): found by kind, message and characters, never printed; an error under
`data.phi: refuse` (the default: `kit data validate` exits 1 and `kit up` trains nothing), listed
and kept under `warn`. Recall is measured on a planted set (tests/data/phi_planted.py) and false
positives on the quick start's data, which must stay at 0 for the quick start to run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.data.phi import KINDS, find, scan
from kit.data.validate import validate
from tests.conftest import ROOT, free_port, run_kit
from tests.data.phi_planted import CLEAN, PLANTED

QUICKSTART = ROOT / "examples" / "quickstart" / "data.jsonl"


def test_every_planted_identifier_is_found_by_its_kind():
    assert set(PLANTED) == set(KINDS)  # every kind the screen knows is planted
    missed, total = [], 0
    for kind, texts in PLANTED.items():
        found = sum(kind in {k for k, _, _ in find(text)} for text in texts)
        total += len(texts)
        missed += [(kind, t) for t in texts if kind not in {k for k, _, _ in find(t)}]
        print(f"recall {kind}: {found}/{len(texts)}")
    print(f"recall overall: {total - len(missed)}/{total}")
    assert missed == []


def test_clinical_text_without_identifiers_is_not_flagged():
    flagged = {text: find(text) for text in CLEAN if find(text)}
    print(f"false positives on the clean set: {len(flagged)}/{len(CLEAN)}")
    assert flagged == {}


def test_the_quick_start_data_has_no_false_positive_and_validates_under_refuse():
    findings = [f for line in QUICKSTART.read_text().splitlines()
                for f in scan(json.loads(line)["messages"])]
    print(f"false positives on examples/quickstart/data.jsonl: {len(findings)} in 50 examples")
    assert findings == []
    report = validate(str(QUICKSTART), phi="refuse")
    assert report.ok and report.examples == 50 and report.stats["phi"]["examples"] == 0


def test_findings_name_kind_and_columns_of_the_matched_text_only():
    text = "Pt: Dana Whitlock, DOB 3/14/1961, lives at 88 Birch Lane."
    found = find(text)
    assert [(k, text[s - 1:e]) for k, s, e in found] == [
        ("person name", "Pt: Dana Whitlock"), ("date of birth", "DOB 3/14/1961"),
        ("street address", "88 Birch Lane")]


def _phi_file(tmp_path: Path) -> tuple[Path, list[str]]:
    secrets = ["219-09-9999", "Dana Whitlock", "1EG4-TE5-MK73"]
    records = [{"prompt": "What is a copay?", "completion": "A fixed amount paid per visit."},
               {"prompt": f"Patient: {secrets[1]} asks about her bill",
                "completion": f"Her SSN {secrets[0]} and Medicare id {secrets[2]} are on file."}]
    path = tmp_path / "notes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path, secrets


def test_validate_refuses_phi_by_default_naming_kind_line_and_columns_never_the_text(tmp_path):
    path, secrets = _phi_file(tmp_path)
    result = run_kit("data", "validate", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert (f"{path}:2: error: likely PHI (data.phi: refuse): person name at columns 13-34 "
            "(message 1, user); SSN at columns 77-91 (message 2, assistant); Medicare MBI at "
            "columns 109-121 (message 2, assistant)") in out
    line = path.read_text().splitlines()[1]   # the columns point at what was planted
    assert [line[12:34], line[80:91], line[108:121]] == [f"Patient: {secrets[1]}", *secrets[::2]]
    assert "set data.phi: warn" in out and "Traceback" not in out
    assert not any(secret in out for secret in secrets)

    kept = run_kit("data", "validate", str(path), "--phi", "warn")
    assert kept.returncode == 0 and f"{path}:2: warning: likely PHI: person name" in kept.stdout


def test_columns_count_escapes_and_other_formats_name_the_message_and_its_characters(tmp_path):
    record = {"messages": [{"role": "user", "content": "Résumé\nDOB: 04/17/1958"},
                           {"role": "assistant", "content": "Noted, thank you kindly."}]}
    escaped = tmp_path / "escaped.jsonl"
    escaped.write_text(json.dumps(record) + "\n")                       # \u00e9 and \n escapes
    plain = tmp_path / "plain.jsonl"
    plain.write_text(json.dumps(record, ensure_ascii=False) + "\n")     # é as is
    table = tmp_path / "table.csv"
    table.write_text('prompt,response\n"Call (617) 555-0143 today",Noted and thank you.\n')
    for file in (escaped, plain):
        report = validate(str(file), phi="warn")
        start, end = map(int, report.warnings[0].message.split("at columns ")[1].split(" ")[0]
                         .split("-"))
        assert file.read_text()[start - 1:end] == "DOB: 04/17/1958"
    report = validate(str(table), phi="warn")
    assert str(report.warnings[0]) == (f"{table}:2: likely PHI: phone number in message 1 "
                                       "(user) chars 6-19")


def _kit_yaml(tmp_path: Path, data: Path, phi: str | None, model: str) -> Path:
    policy = f"  phi: {phi}\n" if phi else ""
    path = tmp_path / "kit.yaml"
    # A free port: `kit up` checks the serve port before training, and 8080 may be taken
    # (a quick start left serving on this machine).
    path.write_text(f"name: phi-check\ntarget: local\nmodel:\n  id: {model}\n"
                    f"data:\n  uri: {data.name}\n{policy}eval:\n  gate: false\n"
                    f"serving:\n  port: {free_port()}\n")
    return path


def test_kit_up_trains_nothing_on_phi_by_default(tmp_path):
    """The issue's case: an SSN, a name and an MBI; before, `kit up` said "N warning(s)" and
    trained. Now the data phase fails, naming the line and kinds, and no run starts."""
    data, secrets = _phi_file(tmp_path)
    config = _kit_yaml(tmp_path, data, None, "demo:tiny-llama")
    result = run_kit("up", "--yes", "-f", str(config))
    assert result.returncode == 1
    assert (f"error: data.uri: {data}:2: likely PHI (data.phi: refuse): person name at columns "
            "13-34 (message 1, user)" in result.stderr)
    assert not any(secret in result.stdout + result.stderr for secret in secrets)
    assert not (tmp_path / ".kit" / "phi-check" / "runs").exists()


def test_kit_up_under_warn_lists_each_finding_by_kind_and_line_then_goes_on(tmp_path):
    data, secrets = _phi_file(tmp_path)
    # a model folder that does not exist stops `kit up` at the phase after data
    config = _kit_yaml(tmp_path, data, "warn", "./no-model-here")
    result = run_kit("up", "--yes", "-f", str(config))
    assert f"! {data}:2: likely PHI: person name at columns 13-34 (message 1, user)" in result.stdout
    assert "2 examples valid" in result.stdout
    assert "model.id: ./no-model-here: no such folder" in result.stderr
    assert not any(secret in result.stdout + result.stderr for secret in secrets)


@pytest.mark.parametrize("value", ["refuse", "warn"])
def test_data_phi_takes_refuse_or_warn_and_defaults_to_refuse(tmp_path, value):
    from kit.config import load
    from kit.errors import KitError

    data = tmp_path / "d.jsonl"
    assert load(_kit_yaml(tmp_path, data, None, "demo:tiny-llama")).data.phi == "refuse"
    assert load(_kit_yaml(tmp_path, data, value, "demo:tiny-llama")).data.phi == value
    with pytest.raises(KitError, match="data.phi: 'allow' is not allowed"):
        load(_kit_yaml(tmp_path, data, "allow", "demo:tiny-llama"))
