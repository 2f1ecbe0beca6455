"""Chat templates: the marked template trains, the stripped one ships, both render the same text."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from kit.trainer import chat
from tests.trainer.helpers import conversations

UNMARKED = ("{% for m in messages %}{{ m['role'] + ':\\n' + m['content'] + eos_token + '\\n' }}{% endfor %}"
            "{% if add_generation_prompt %}{{ 'assistant:\\n' }}{% endif %}")


@pytest.mark.parametrize("name", sorted(chat.kit_templates()))
def test_stripped_kit_templates_render_identically(tiny_model, name):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    marked = chat.kit_templates()[name]
    stripped = chat.strip_markers(marked)
    assert chat.has_markers(marked) and not chat.has_markers(stripped)
    for conv in conversations(8):
        assert chat.render(marked, conv, tok) == chat.render(stripped, conv, tok)
        prompt = conv[:-1]
        assert (tok.apply_chat_template(prompt, chat_template=marked, tokenize=False, add_generation_prompt=True)
                == tok.apply_chat_template(prompt, chat_template=stripped, tokenize=False, add_generation_prompt=True))


def test_strip_keeps_whitespace_control():
    assert chat.strip_markers("a {%- generation -%} b {% endgeneration %}") == "a {%- if true -%} b {% endif %}"


def test_plan_for_the_demo_model_uses_the_kit_chatml(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    plan = chat.plan(tok)
    assert plan.source == "kit:chatml.jinja" and plan.assistant_masks
    assert plan.serving == tok.chat_template  # the model's own template ships unchanged


def test_plan_for_a_base_model_uses_the_shipped_base_template(base_model_no_template):
    tok = AutoTokenizer.from_pretrained(base_model_no_template)
    assert not tok.chat_template
    plan = chat.plan(tok)
    assert plan.source == "kit:base.jinja" and plan.assistant_masks
    text = chat.render(plan.serving, conversations(1)[0], tok)
    assert "### Assistant:\n" in text and text.count(tok.eos_token) == 1


def test_plan_for_a_template_with_markers_strips_them_for_serving(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    tok.chat_template = chat.kit_templates()["base.jinja"]
    plan = chat.plan(tok)
    assert plan.source == "model" and plan.serving == chat.strip_markers(tok.chat_template)


def test_plan_for_an_unknown_unmarked_template_falls_back_to_completions(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    tok.chat_template = UNMARKED
    plan = chat.plan(tok)
    assert plan.source == "model-unmarked" and not plan.assistant_masks
    assert plan.training == plan.serving == UNMARKED
