"""Training examples: read through kit.data.formats, checked, split, turned into datasets."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

from kit.data.formats import DataError, Example, iter_examples

ROLES = ("system", "user", "assistant")


def _check(example: Example) -> list[dict[str, str]]:
    """Canonical messages of one example, or a DataError naming its file and line."""
    where = f"{example.source}:{example.line}"
    messages: list[dict[str, str]] = []
    for i, msg in enumerate(example.messages):
        if not isinstance(msg, dict):
            raise DataError(f"{where}: messages[{i}] is not an object")
        role, content = msg.get("role"), msg.get("content")
        if role not in ROLES:
            raise DataError(f"{where}: messages[{i}].role is {role!r}", hint=f"use one of {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise DataError(f"{where}: messages[{i}].content must be text")
        messages.append({"role": role, "content": content})
    if not any(m["role"] == "assistant" and m["content"].strip() for m in messages):
        raise DataError(f"{where}: no assistant reply to train on",
                        hint="every example needs at least one non-empty assistant message")
    return messages


def load(path: Path) -> list[list[dict[str, str]]]:
    """All conversations under `path`, in file order; DataError on the first bad record."""
    conversations = [_check(example) for example in iter_examples(path)]
    if not conversations:
        raise DataError(f"{path}: no examples to train on")
    return conversations


def split(conversations: list, fraction: float, cap: int, seed: int) -> tuple[list, list]:
    """Deterministic held-out split: round(n * fraction) examples, at most `cap`, never all."""
    n_eval = min(cap, round(len(conversations) * fraction))
    if n_eval <= 0 or len(conversations) - n_eval < 1:
        return list(conversations), []
    order = list(range(len(conversations)))
    random.Random(seed).shuffle(order)
    held = set(order[:n_eval])
    train = [c for i, c in enumerate(conversations) if i not in held]
    return train, [c for i, c in enumerate(conversations) if i in held]


def to_dataset(conversations: list, assistant_masks: bool) -> Any:
    """A `datasets.Dataset` in the shape TRL's SFTTrainer expects.

    With assistant masks: one conversational example per conversation. Without (a template
    with no generation markers): one prompt/completion example per assistant turn, so TRL's
    completion-only loss trains each reply in its full context.
    """
    from datasets import Dataset

    if assistant_masks:
        return Dataset.from_list([{"messages": c} for c in conversations])
    rows = [{"prompt": c[:i], "completion": [m]}
            for c in conversations for i, m in enumerate(c) if i and m["role"] == "assistant"]
    return Dataset.from_list(rows)


def token_lengths(conversations: list, tokenizer: Any, template: str, assistant_masks: bool,
                  max_length: int) -> list[int]:
    """Tokens per training row (after truncation), as the chat template renders them."""
    if assistant_masks:
        rows = conversations
    else:
        rows = [c[: i + 1] for c in conversations for i, m in enumerate(c) if i and m["role"] == "assistant"]
    lengths = []
    for conv in rows:
        ids = tokenizer.apply_chat_template(conv, chat_template=template, tokenize=True, return_dict=True)
        lengths.append(min(len(ids["input_ids"]), max_length))
    return lengths


def sequences_per_step(batch_size: int, lengths: list[int], max_length: int, packing: bool) -> int:
    """Sequences per optimizer step so that a step holds `batch_size` examples' worth of tokens.

    `batch_size` counts examples, as in LIMA. Unpacked, that is the sequence count. Packed into
    rows of `max_length`, a step takes the rows that hold `batch_size` examples on average.
    """
    if not packing or not lengths:
        return batch_size
    rows = math.ceil(sum(lengths) / max_length)
    return max(1, round(batch_size * rows / len(lengths)))
