"""spec.json: what one run trains, written by the local target or the fine-tune Job's init step."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.errors import KitError


@dataclass(frozen=True)
class Spec:
    run_id: str
    base_model: Path      # local folder: config.json + tokenizer files (+ weights)
    data: Path            # local file or folder, read through kit.data.formats
    output: Path          # the run's folder: checkpoints/, model/, adapter/, summary.json
    training: dict[str, Any] = field(default_factory=dict)
    upload_uri: str | None = None
    eval: dict[str, Any] = field(default_factory=dict)   # kit.yaml eval: (generation limits)
    eval_data: Path | None = None   # a fixed held-out set (eval.uri): then nothing is split off


def load(path: str | Path) -> Spec:
    """Read and check spec.json; every problem is a one-line KitError naming the key."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KitError(f"{path}: no such spec file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise KitError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise KitError(f"{path}: the spec must be a JSON object")
    missing = [k for k in ("run_id", "base_model", "data", "output") if not raw.get(k)]
    if missing:
        raise KitError(f"{path}: missing key(s): {', '.join(missing)}")
    unknown = sorted(set(raw) - {"run_id", "base_model", "data", "output", "training", "upload_uri",
                                 "eval", "eval_data"})
    if unknown:
        raise KitError(f"{path}: unknown key(s): {', '.join(unknown)}")
    training = raw.get("training") or {}
    if not isinstance(training, dict):
        raise KitError(f"{path}: training: must be an object of kit.yaml training fields")
    base = Path(raw["base_model"])
    if not (base / "config.json").is_file():
        raise KitError(f"{path}: base_model: {base} has no config.json",
                       hint="stage the model folder (config.json, tokenizer, weights) first")
    upload = raw.get("upload_uri")
    if upload is not None and not isinstance(upload, str):
        raise KitError(f"{path}: upload_uri: must be a string or null")
    evaluation = raw.get("eval") or {}
    if not isinstance(evaluation, dict):
        raise KitError(f"{path}: eval: must be an object of kit.yaml eval fields")
    return Spec(run_id=str(raw["run_id"]), base_model=base, data=Path(raw["data"]),
                output=Path(raw["output"]), training=training, upload_uri=upload or None,
                eval=evaluation, eval_data=Path(raw["eval_data"]) if raw.get("eval_data") else None)
