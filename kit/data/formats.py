"""Readers that turn every accepted format into the canonical form {"messages": [...]}.

Accepted: chat `messages` JSONL, `prompt`/`response`, `prompt`/`completion` (TRL's format),
`instruction`/`input`/`output` and `question`/`answer` JSONL,
ShareGPT `conversations`, CSV with those columns, and Parquet with the same fields. Every reader
streams (line by line, or in Parquet record batches), so a large file is never loaded whole.

`read_file` yields an Example or a Problem per record so that validation can report every bad
record; `iter_examples` is the strict form the trainer uses (stops at the first problem).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from kit.errors import KitError

SUFFIXES = (".jsonl", ".ndjson", ".csv", ".parquet")
ROLES = ("system", "user", "assistant")
# ShareGPT speaker names -> canonical roles.
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "chatgpt": "assistant", "bard": "assistant", "bing": "assistant",
                  "model": "assistant", "system": "system"}
# (question, answer) field pairs; TRL's "prompt-completion" format is one of them.
PAIRS = (("prompt", "response"), ("prompt", "completion"), ("instruction", "output"),
         ("question", "answer"))
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_PARQUET_BATCH = 2048
_SNIFF = 8192  # bytes read up front to tell a binary file from text


class DataError(KitError):
    """A record that cannot be read; the message names file and line."""


@dataclass(frozen=True)
class Example:
    messages: list[dict[str, str]]
    source: str
    line: int


@dataclass(frozen=True)
class Problem:
    """Why one record (or a whole file, at the line where reading failed) is unusable."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def data_files(path: str | Path) -> list[Path]:
    """The data files under a file or folder, in a stable order (hidden paths are not data).

    A folder with a kit manifest holds exactly the set the manifest names: files beside it that
    it does not name are left over from an earlier set (or a half-finished sync) and are not
    data, so they are never read."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        listed = _manifest_files(path)
        files = listed if listed is not None else sorted(
            p for p in path.rglob("*")
            if p.is_file() and p.suffix in SUFFIXES and not _hidden(p, path))
        if files:
            return files
        raise DataError(f"{path}: no data files ({', '.join(SUFFIXES)}) in this folder")
    raise DataError(f"{path}: no such file or folder", hint="check data.uri in kit.yaml")


def _manifest_files(folder: Path) -> list[Path] | None:
    """The data files the folder's manifest names (each must exist), or None without one."""
    from kit.data.manifest import MANIFEST, read_local

    manifest = read_local(folder)
    if manifest is None:
        return None
    files = []
    for name in sorted(manifest.files):
        file = folder / name
        if (Path(name).suffix not in SUFFIXES or Path(name).is_absolute()
                or _hidden(file, folder)):  # not data, or not inside this folder
            continue
        if not file.is_file():
            raise DataError(f"{file}: named in {folder / MANIFEST} but missing",
                            hint="sync or publish the data again")
        files.append(file)
    return files


def iter_examples(path: str | Path) -> Iterator[Example]:
    """Stream canonical examples from a file or folder; raise DataError at the first bad record."""
    for file in data_files(path):
        for item in read_file(file):
            if isinstance(item, Problem):
                raise DataError(str(item), hint="run `kit data validate` for the full list")
            yield item


def read_file(file: Path, source: str | None = None) -> Iterator[Example | Problem]:
    """Every record of one file, canonical, or the Problem that makes it unusable."""
    source = source or str(file)
    reader = {".csv": _read_csv, ".parquet": _read_parquet}.get(file.suffix, None)
    if reader is None and file.suffix not in (".jsonl", ".ndjson"):
        yield Problem(source, 1, f"unsupported file type '{file.suffix or file.name}' "
                                 f"(expected {', '.join(SUFFIXES)})")
        return
    count = 0
    for item in (reader or _read_jsonl)(file, source):
        count += 1
        yield item
    if count == 0:
        yield Problem(source, 1, "empty file: no examples")


# --- record -> canonical messages ------------------------------------------------------------


def _type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
            int: "number", float: "number"}.get(type(value), type(value).__name__)


def to_messages(record: Any, scan_control: bool = True) -> list[dict[str, str]] | str:
    """The canonical messages of one record, or a one-line description of what is wrong."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {_type(record)}"
    if "messages" in record:
        messages = record["messages"]
        if not isinstance(messages, list):
            return f"'messages' must be a list, got {_type(messages)}"
        return check_messages(messages, scan_control)
    if "conversations" in record:
        return _sharegpt(record["conversations"], scan_control)
    # A pair is chosen by its answer key first: `prompt` alone says nothing about which pair
    # (TRL's prompt/completion and the prompt/response form share it).
    for ask, answer in PAIRS:
        if answer in record:
            return _pair(record, ask, answer, scan_control)
    for ask, _ in PAIRS:
        if ask in record:
            answers = " or ".join(f"'{a}'" for k, a in PAIRS if k == ask)
            return f"has '{ask}' but no {answers}"
    keys = ", ".join(sorted(map(str, record))[:6]) or "none"
    known = ", ".join(f"'{ask}'/'{answer}'" for ask, answer in PAIRS)
    return f"no known fields: expected 'messages', 'conversations', {known} (found: {keys})"


def _pair(record: dict, ask: str, answer: str, scan_control: bool) -> list[dict[str, str]] | str:
    if ask in record and isinstance(record[ask], list) and isinstance(record.get(answer), list):
        # TRL's conversational prompt-completion: both sides are lists of messages
        return check_messages(record[ask] + record[answer], scan_control)
    for key in (ask, answer):
        if key not in record:
            return f"has '{ask if key == answer else answer}' but no '{key}'"
        if not isinstance(record[key], str):
            return f"'{key}' must be a string, got {_type(record[key])}"
    prompt = record[ask]
    extra = record.get("input")
    if ask == "instruction" and isinstance(extra, str) and extra.strip():
        prompt = f"{prompt}\n\n{extra}"
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": record[answer]}]
    system = record.get("system")
    if isinstance(system, str) and system.strip():
        messages.insert(0, {"role": "system", "content": system})
    return check_messages(messages, scan_control)


def _sharegpt(turns: Any, scan_control: bool) -> list[dict[str, str]] | str:
    if not isinstance(turns, list):
        return f"'conversations' must be a list, got {_type(turns)}"
    messages: list[Any] = []
    for i, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict):
            return f"turn {i} must be an object, got {_type(turn)}"
        if "role" in turn:  # some ShareGPT exports already use role/content
            messages.append(turn)
            continue
        speaker = turn.get("from")
        if speaker is None:
            return f"turn {i} has no 'from'"
        role = SHAREGPT_ROLES.get(str(speaker).lower())
        if role is None:
            return (f"turn {i} has unknown speaker '{speaker}' "
                    f"(expected one of {', '.join(sorted(SHAREGPT_ROLES))})")
        messages.append({"role": role, "content": turn.get("value")})
    return check_messages(messages, scan_control)


def check_messages(messages: list, scan_control: bool = True) -> list[dict[str, str]] | str:
    """The rules of a trainable conversation: known roles, non-empty text, an optional system
    turn first, then user/assistant alternating, ending with an assistant answer.
    `scan_control=False` skips the control-character scan when the caller knows there are none."""
    if not messages:
        return "'messages' is empty"
    out: list[dict[str, str]] = []
    previous = None
    for i, msg in enumerate(messages, start=1):
        if not isinstance(msg, dict):
            return f"message {i} must be an object, got {_type(msg)}"
        role = msg.get("role")
        if role is None:
            return f"message {i} has no 'role'"
        if role not in ROLES:
            return f"message {i} has unknown role '{role}' (expected one of {', '.join(ROLES)})"
        content = msg.get("content")
        if content is None:
            return f"message {i} ({role}) has no 'content'"
        if not isinstance(content, str):
            return f"message {i} ({role}) content must be a string, got {_type(content)}"
        if not content.strip():
            return f"message {i} ({role}) has empty content"
        if scan_control and _CONTROL.search(content):
            return f"message {i} ({role}) has binary content (control characters)"
        if role == "system" and i != 1:
            return f"bad turn order: message {i} is 'system'; only the first message may be"
        if role != "system":
            expected = "assistant" if previous == "user" else "user"
            if role != expected:
                after = f"follows '{previous}'" if previous else "is the first turn"
                return (f"bad turn order: message {i} is '{role}' but {after} "
                        f"(expected '{expected}'; turns alternate user/assistant)")
            previous = role
        out.append({"role": role, "content": content})
    if previous is None or "assistant" not in {m["role"] for m in out}:
        return "no assistant turn"
    if previous != "assistant":
        return f"bad turn order: the last turn is '{previous}' with no assistant answer"
    return out


def _example(record: Any, source: str, line: int, scan_control: bool = True) -> Example | Problem:
    messages = to_messages(record, scan_control)
    if isinstance(messages, str):
        return Problem(source, line, messages)
    return Example(messages, source, line)


# --- file readers ------------------------------------------------------------------------------


def _text_lines(file: Path, source: str) -> Iterator[tuple[int, str] | Problem]:
    """(line number, text) for every line; a Problem (and stop) at binary or non-UTF-8 bytes."""
    with file.open("rb") as fh:
        head = fh.read(_SNIFF)
        if b"\x00" in head:  # a binary file: say so, rather than "not UTF-8" at its first byte
            line = head.count(b"\n", 0, head.index(b"\x00")) + 1
            yield Problem(source, line, "binary content (NUL bytes): not a text data file")
            return
        fh.seek(0)
        for number, raw in enumerate(fh, start=1):
            if b"\x00" in raw:
                yield Problem(source, number, "binary content (NUL bytes): not a text data file")
                return
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield Problem(source, number, f"not UTF-8: invalid byte 0x{raw[exc.start]:02x} "
                                              f"at column {exc.start + 1}")
                return
            yield number, text


def _read_jsonl(file: Path, source: str) -> Iterator[Example | Problem]:
    for item in _text_lines(file, source):
        if isinstance(item, Problem):
            yield item
            return
        number, text = item
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Problem(source, number, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        # Strict JSON has no raw control characters in strings: only these escapes make them.
        escaped = "\\u00" in text or "\\b" in text or "\\f" in text
        yield _example(record, source, number, scan_control=escaped)


def _read_csv(file: Path, source: str) -> Iterator[Example | Problem]:
    state = {"line": 0, "problem": None}

    def lines() -> Iterable[str]:
        for item in _text_lines(file, source):
            if isinstance(item, Problem):
                state["problem"] = item
                return
            state["line"] = item[0]
            yield item[1]

    reader = csv.reader(lines())
    header: list[str] | None = None
    start = 1
    try:
        for row in reader:
            line, start = start, state["line"] + 1
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in row]
                continue
            if len(row) != len(header):
                yield Problem(source, line, f"expected {len(header)} columns, got {len(row)}")
                continue
            yield _example(dict(zip(header, row, strict=True)), source, line)
    except csv.Error as exc:
        yield Problem(source, state["line"], f"invalid CSV: {exc}")
    if state["problem"] is not None:
        yield state["problem"]


def _read_parquet(file: Path, source: str) -> Iterator[Example | Problem]:
    from kit.errors import require

    pq = require("pyarrow.parquet", "storage")
    try:
        handle = pq.ParquetFile(file)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError variants for bad files
        yield Problem(source, 1, f"not a Parquet file: {str(exc).splitlines()[0]}")
        return
    row = 0
    batches = handle.iter_batches(batch_size=_PARQUET_BATCH)
    while True:
        try:
            batch = next(batches, None)
        except Exception as exc:  # a damaged row group: report it where it starts, then stop
            yield Problem(source, row + 1, f"unreadable Parquet data: {str(exc).splitlines()[0]}")
            return
        if batch is None:
            return
        for record in batch.to_pylist():
            row += 1
            yield _example(record, source, row)
