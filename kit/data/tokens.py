"""Token counts for validation: exact with the model's own tokenizer and chat template (what
the trainer will see), or an estimate (4 characters a token) when no model is given."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from kit.errors import KitError, require

CHARS_PER_TOKEN = 4
TEMPLATE_OVERHEAD = 4  # tokens a chat template typically adds per message, for the estimate

Counter = Callable[[list[list[dict[str, str]]]], list[int]]


def estimate(batch: list[list[dict[str, str]]]) -> list[int]:
    return [sum(-(-len(m["content"]) // CHARS_PER_TOKEN) + TEMPLATE_OVERHEAD for m in msgs)
            for msgs in batch]


def load_counter(model_dir: str | Path) -> Counter:
    """A batch token counter from a local model folder (tokenizer files, no weights needed)."""
    path = Path(model_dir).expanduser()
    if not path.is_dir():
        raise KitError(f"{model_dir}: no such model folder",
                       hint="--model takes a local model folder or a hub id like org/name")
    transformers = require("transformers", "train")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise KitError(f"{model_dir}: cannot load its tokenizer: {first}",
                       hint="the folder needs tokenizer.json or tokenizer_config.json") from None
    templated = bool(getattr(tokenizer, "chat_template", None))

    def count(batch: list[list[dict[str, str]]]) -> list[int]:
        if templated:
            texts = [tokenizer.apply_chat_template(msgs, tokenize=False) for msgs in batch]
        else:
            texts = ["\n".join(f"{m['role']}: {m['content']}" for m in msgs) for msgs in batch]
        encoded = tokenizer(texts, add_special_tokens=not templated)["input_ids"]
        return [len(ids) for ids in encoded]

    return count
