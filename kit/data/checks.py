"""Per-example quality checks that are warnings, not errors: duplicates, very short answers and
likely PHI/PII. Each returns what was found and where, never the matched text itself, so a
report can be shared with reviewers without leaking what it warns about."""

from __future__ import annotations

import hashlib
import re

# Names are what the report prints; a value is never printed. Patterns have no leading
# look-behind (it defeats the regex engine's fast scan); the boundary is checked in Python.
PII_PATTERNS = {
    "email address": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "SSN": r"\d{3}-\d{2}-\d{4}(?!\d)",
    "phone number": r"(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\d-])",
    "MRN-like identifier": r"(?i:\b(?:MRN|medical record (?:number|no\.?)|patient id)\b)"
                           r"[\s:#.-]*[A-Z0-9-]{5,}",
}
_COMPILED = {name: re.compile(rx) for name, rx in PII_PATTERNS.items()}
# bytes.translate tables: C-speed prefilters and normalization over UTF-8 text.
_NOT_DIGITS = bytes(c for c in range(256) if not 48 <= c <= 57)
_PUNCT_AND_SPACE = bytes(c for c in range(256) if c <= 47 or 58 <= c <= 64 or 91 <= c <= 96
                         or 123 <= c <= 127)  # ASCII controls, spaces and punctuation
SHORT_ANSWER_WORDS = 3


def _found(name: str, text: str) -> bool:
    for match in _COMPILED[name].finditer(text):
        start = match.start()
        if start == 0 or not (text[start - 1].isdigit() or text[start - 1] == "-"):
            return True
    return False


def _candidates(text: str) -> list[str]:
    """The patterns worth running on this text, by cheap tests: an '@', nine digits, a keyword."""
    names = ["email address"] if "@" in text else []
    raw = text.encode()
    if len(raw.translate(None, _NOT_DIGITS)) >= 9:
        names += ["SSN", "phone number"]
    lower = raw.lower()
    if b"mrn" in lower or b"medical record" in lower or b"patient id" in lower:
        names.append("MRN-like identifier")
    return names


def pii_kinds(messages: list[dict[str, str]]) -> list[tuple[int, str, list[str]]]:
    """(message number, role, kinds found) for each message with likely PHI/PII."""
    if not _candidates("\n".join(m["content"] for m in messages)):
        return []  # the common case: one cheap pass over the whole conversation
    found = []
    for i, msg in enumerate(messages, start=1):
        kinds = sorted(n for n in _candidates(msg["content"]) if _found(n, msg["content"]))
        if kinds:
            found.append((i, msg["role"], kinds))
    return found


def _joined(messages: list[dict[str, str]]) -> str:
    return "\x1f".join(f"{m['role']}\x1e{m['content']}" for m in messages)


def exact_key(messages: list[dict[str, str]]) -> bytes:
    return hashlib.blake2b(_joined(messages).encode(), digest_size=16).digest()


def near_key(messages: list[dict[str, str]]) -> bytes:
    """Equal for conversations that differ only in case, ASCII punctuation or spacing (numbers
    are kept: in clinical or financial data they are often the whole point of an example)."""
    text = _joined(messages).casefold().encode().translate(None, _PUNCT_AND_SPACE)
    return hashlib.blake2b(text, digest_size=16).digest()


def short_answers(messages: list[dict[str, str]]) -> list[tuple[int, int]]:
    """(message number, word count) of assistant answers under SHORT_ANSWER_WORDS words."""
    out = []
    for i, msg in enumerate(messages, start=1):
        if msg["role"] == "assistant":
            words = len(msg["content"].split(None, SHORT_ANSWER_WORDS))
            if words < SHORT_ANSWER_WORDS:
                out.append((i, words))
    return out


class Duplicates:
    """Remembers where each conversation was first seen (16-byte keys: ~100 MB per million)."""

    def __init__(self) -> None:
        self.exact: dict[bytes, tuple[str, int]] = {}
        self.near: dict[bytes, tuple[str, int]] = {}
        self.counts = {"exact": 0, "near": 0}

    def check(self, messages: list[dict[str, str]], source: str, line: int) -> tuple[str, str, int] | None:
        """("exact" | "near", first source, first line) when seen before, else None."""
        key = exact_key(messages)
        first = self.exact.setdefault(key, (source, line))
        if first != (source, line):
            self.counts["exact"] += 1
            return ("exact", *first)
        near = near_key(messages)
        first = self.near.setdefault(near, (source, line))
        if first != (source, line):
            self.counts["near"] += 1
            return ("near", *first)
        return None
