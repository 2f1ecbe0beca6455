"""What the data and model phases return: the values a fine-tune run is keyed on and trained from.

Each is frozen and returned by its phase (kit.pipeline.flow), never left on a target for a
later phase to find: a command that skips a phase cannot see a stale value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from rich.console import Console
from rich.markup import escape

from kit.errors import KitError
from kit.pipeline.phases import Outcome

if TYPE_CHECKING:
    from kit.config import KitConfig


@dataclass(frozen=True)
class Dataset:
    """The training data (and a fixed held-out set, eval.uri) as validated."""
    id: str                        # manifest hash, "+eval:" the held-out set's: part of the run key
    location: str                  # where the trainer reads it: a local path or a bucket URI
    eval_location: str | None      # eval.uri, likewise
    examples: int
    tokens_per_epoch: int | None   # what validation counted: the run's estimate reads it
    outcome: Outcome


@dataclass(frozen=True)
class BaseModel:
    """The base model, staged where the target trains, at a resolved revision."""
    revision: str                  # a commit or content identity: part of the run key
    location: str                  # where the trainer reads it: a local folder or a bucket URI
    outcome: Outcome


def check_data(cfg: "KitConfig", stage: Callable[[str, str], str], console: Console) -> Dataset:
    """Validate data.uri (and eval.uri) where the target reads them (`stage(uri, key)` returns
    that location, copying a bucket to the machine where needed) and key them by content. PHI
    findings kept under data.phi: warn are listed; the gate's held-out split is checked here,
    before anything trains."""
    from kit.data.fingerprint import dataset_fingerprint
    from kit.data.validate import phi_lines, validate
    from kit.pipeline.gate import check_held_out

    checked = {}
    keys = [("data.uri", cfg.data.uri)] + ([("eval.uri", cfg.eval.uri)] if cfg.eval.uri else [])
    for key, uri in keys:
        where = stage(uri, key)
        report = validate(where, max_length=cfg.training.max_length, phi=cfg.data.phi)
        if not report.ok:
            more = f" (+{len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
            raise KitError(f"{key}: {report.errors[0]}{more}",
                           hint=f"see all problems: kit data validate {where}")
        for line in phi_lines(report):  # data.phi: warn: what was kept, by kind and place
            console.print(f"  ! {line}", markup=False, highlight=False, soft_wrap=True)
        checked[key] = (where, report, dataset_fingerprint(where))
    where, report, data_id = checked["data.uri"]
    held, eval_where = "", None
    if "eval.uri" in checked:   # the held-out set changes what is trained on: part of the key
        eval_where, eval_report, eval_id = checked["eval.uri"]
        data_id += "+eval:" + eval_id
        held = f", {eval_report.examples} held out"
    check_held_out(cfg, report.examples)
    warn = f", {len(report.warnings)} warning(s)" if report.warnings else ""
    return Dataset(id=data_id, location=where, eval_location=eval_where, examples=report.examples,
                   tokens_per_epoch=report.stats.get("train_tokens_per_epoch"),
                   outcome=Outcome(f"{report.examples} examples valid{held}{warn} "
                                   f"[dim]({escape(where)})[/]"))
