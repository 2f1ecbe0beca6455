"""Per-example quality checks that are warnings, not errors: duplicates and very short answers
(likely PHI is kit.data.phi). Each returns what was found and where, never the text itself."""

from __future__ import annotations

import hashlib

# bytes.translate table: C-speed normalization over UTF-8 text.
_PUNCT_AND_SPACE = bytes(c for c in range(256) if c <= 47 or 58 <= c <= 64 or 91 <= c <= 96
                         or 123 <= c <= 127)  # ASCII controls, spaces and punctuation
SHORT_ANSWER_WORDS = 3


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
