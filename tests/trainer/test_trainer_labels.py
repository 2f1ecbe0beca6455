"""Loss on assistant turns only: assert on the labels the SFTTrainer will train on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kit.trainer import chat, dataset, recipe
from kit.trainer.events import Events
from kit.trainer.run import prepare
from kit.trainer.spec import Spec
from tests.trainer.helpers import conversations, write_jsonl
from tests.trainer.test_trainer_chat import UNMARKED

IGNORE = -100


def _runs(labels: list[int]) -> list[list[int]]:
    """Contiguous runs of trained (not ignored) label ids."""
    runs, current = [], []
    for label in labels:
        if label == IGNORE:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(label)
    return runs + ([current] if current else [])


def _prepare(tmp_path: Path, model: Path, convs: list, **training):
    data = write_jsonl(tmp_path / "data.jsonl", convs)
    settings = recipe.resolve({"method": "full", "packing": False, "max_length": 256, "eval_fraction": 0,
                               "batch_size": 2, "micro_batch_size": 2, **training})
    spec = Spec("labels", model, data, tmp_path / "out", settings)
    prep = prepare(spec, settings, Events(None, enabled=False))
    train, _ = dataset.split(dataset.load(data), settings["eval_fraction"], settings["eval_max_examples"],
                             settings["seed"])
    return prep, train


@pytest.mark.parametrize("model_fixture", ["tiny_model", "base_model_no_template"])
def test_labels_mask_everything_but_assistant_tokens(tmp_path, request, model_fixture):
    model = request.getfixturevalue(model_fixture)
    convs = conversations(8)
    prep, train = _prepare(tmp_path, model, convs)
    tok, rows = prep.tokenizer, prep.trainer.train_dataset
    assert prep.template.assistant_masks and len(rows) == len(train)
    eot = tok.eos_token
    for row, conv in zip(rows, train, strict=True):
        ids, labels = row["input_ids"], row["labels"]
        # what the model sees is exactly the chat template's rendering of the conversation
        assert tok.decode(ids) == chat.render(prep.template.training, conv, tok)
        assert all(label == IGNORE or label == token for label, token in zip(labels, ids, strict=True))
        replies = [m["content"] + eot for m in conv if m["role"] == "assistant"]
        assert [tok.decode(run) for run in _runs(labels)] == replies
        masked = tok.decode([t for t, label in zip(ids, labels, strict=True) if label == IGNORE])
        for m in conv:
            if m["role"] != "assistant":
                assert m["content"] in masked


def test_unmarked_template_trains_each_reply_as_a_completion(tmp_path, tiny_model):
    model = tmp_path / "unmarked"
    shutil.copytree(tiny_model, model)
    (model / "chat_template.jinja").write_text(UNMARKED)
    convs = conversations(8)
    prep, train = _prepare(tmp_path, model, convs)
    assert not prep.template.assistant_masks
    tok, rows = prep.tokenizer, prep.trainer.train_dataset
    replies = [(c[:i], m) for c in train for i, m in enumerate(c) if m["role"] == "assistant"]
    assert len(rows) == len(replies) > len(train)  # multi-turn conversations give one row per reply
    for row, (context, reply) in zip(rows, replies, strict=True):
        trained = _runs(row["labels"])
        assert len(trained) == 1 and tok.decode(trained[0]).startswith(reply["content"])
        assert tok.decode(row["input_ids"]) == chat.render(UNMARKED, context + [reply], tok)


def test_bad_record_is_a_data_error_with_file_and_line(tmp_path, tiny_model):
    from kit.data.formats import DataError

    convs = conversations(3)
    convs[1] = [{"role": "user", "content": "only a question"}]
    with pytest.raises(DataError, match=r"data\.jsonl:2: .*assistant"):
        _prepare(tmp_path, tiny_model, convs)
