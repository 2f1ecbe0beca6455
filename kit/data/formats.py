"""Readers that turn every accepted format into the canonical form {"messages": [...]}.

First cut: canonical chat `messages` JSONL only. The full set of formats lands with the
data-onboarding work; the interface below is what the trainer and the pipeline rely on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from kit.errors import KitError

SUFFIXES = (".jsonl",)


class DataError(KitError):
    """A record that cannot be read; the message names file and line."""


@dataclass(frozen=True)
class Example:
    messages: list[dict[str, str]]
    source: str
    line: int


def data_files(path: str | Path) -> list[Path]:
    """The data files under a file or folder, in a stable order."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if files:
            return files
        raise DataError(f"{path}: no data files ({', '.join(SUFFIXES)}) in this folder")
    raise DataError(f"{path}: no such file or folder", hint="check data.uri in kit.yaml")


def iter_examples(path: str | Path) -> Iterator[Example]:
    """Stream canonical examples from a file or folder; raise DataError at the first bad record."""
    for file in data_files(path):
        with file.open("r", encoding="utf-8") as fh:
            for number, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{file}:{number}: invalid JSON: {exc.msg}") from None
                messages = record.get("messages") if isinstance(record, dict) else None
                if not isinstance(messages, list):
                    raise DataError(f"{file}:{number}: expected an object with a 'messages' list")
                yield Example(messages=messages, source=str(file), line=number)
