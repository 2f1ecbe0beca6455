"""Which chat template training renders with, and which one the output tokenizer carries.

Loss on assistant turns only needs the template to mark the assistant's tokens with
`{% generation %}` blocks (transformers' `return_assistant_tokens_mask`). Those blocks render
nothing, but serving engines built on minijinja (TGI) refuse the unknown tag. So training renders
with a marked template M and the output tokenizer carries `strip_markers(M)`: the same template
with each marker replaced by an always-true `if`, which renders byte-identical text everywhere.

Where M comes from, in order:
1. the model's own template when it already has markers;
2. a kit template (kit/templates/chat) whose stripped form is the model's template;
3. TRL's training variant of a known upstream template (Llama 3, Qwen, Gemma, Phi...);
4. no marked form: the model's template as is, and each assistant turn becomes a
   prompt/completion example (TRL's completion-only loss) - the same tokens are trained;
5. a base model with no template: kit/templates/chat/base.jinja.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

MARKER = re.compile(r"\{%(-?)\s*(end)?generation\s*(-?)%\}")
BASE_TEMPLATE = "base.jinja"


@dataclass(frozen=True)
class TemplatePlan:
    training: str        # what the trainer renders with (may carry generation markers)
    serving: str         # what the output tokenizer carries: same text, no markers
    assistant_masks: bool  # True: assistant_only_loss; False: prompt/completion fallback
    source: str          # "model", "kit:<name>", "trl", "model-unmarked", "kit:base.jinja"


def strip_markers(template: str) -> str:
    """Replace generation markers by no-op blocks that keep their whitespace control."""

    def repl(match: re.Match) -> str:
        left, end, right = match.groups()
        return f"{{%{left} endif {right}%}}" if end else f"{{%{left} if true {right}%}}"

    return MARKER.sub(repl, template)


def has_markers(template: str) -> bool:
    return MARKER.search(template) is not None


def kit_templates() -> dict[str, str]:
    """The chat templates shipped in kit/templates/chat, by file name."""
    folder = resources.files("kit") / "templates" / "chat"
    return {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir() if p.name.endswith(".jinja")}


def _trl_training_template(tokenizer: Any) -> str | None:
    from trl.chat_template_utils import get_training_chat_template

    try:
        patched = get_training_chat_template(tokenizer)
    except ValueError:  # TRL has no training variant of this template
        return None
    return patched


def plan(tokenizer: Any) -> TemplatePlan:
    """Choose the training and serving templates for this tokenizer (see module docstring)."""
    own = tokenizer.chat_template
    if isinstance(own, dict):  # named variants: the default one is what servers use
        own = own.get("default")
    shipped = kit_templates()
    if not own:
        marked = shipped[BASE_TEMPLATE]
        return TemplatePlan(marked, strip_markers(marked), True, f"kit:{BASE_TEMPLATE}")
    if has_markers(own):
        return TemplatePlan(own, strip_markers(own), True, "model")
    for name, marked in sorted(shipped.items()):
        if strip_markers(marked) == own:
            return TemplatePlan(marked, own, True, f"kit:{name}")
    patched = _trl_training_template(tokenizer)
    if patched:
        return TemplatePlan(patched, strip_markers(patched), True, "trl")
    return TemplatePlan(own, own, False, "model-unmarked")


def render(template: str, messages: list[dict], tokenizer: Any) -> str:
    """The exact text a template produces for a conversation, through the tokenizer's renderer."""
    return tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False)
