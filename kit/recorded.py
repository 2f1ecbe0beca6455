"""The configuration a deployment was last brought up with, kept in its state.json, so that
`kit down` can stop and tear down what runs while kit.yaml has an error (a user must never
have to fix a file before they may stop serving).

`kit up` records the validated config; `kit down` reads kit.yaml as usual and, only when that
fails, finds the deployment (the file's `name:` if it can be read at all, else the one
deployment beside it) and tears it down from the recorded config.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit.errors import KitError
from kit.jsonio import read_json
from kit.pipeline import DeploymentState
from kit.workdir import RESERVED_NAMES

if TYPE_CHECKING:
    from kit.config import KitConfig

KEY = "config"      # in state.json


def remember(cfg: "KitConfig") -> None:
    """Record the validated config in the deployment's state (its folder made private first)."""
    cfg.workdir.make_private()
    DeploymentState(cfg.workdir.state).update(**{KEY: cfg.model_dump(mode="json")})


def _name_in(path: Path) -> str | None:
    """The `name:` of a kit.yaml that may be invalid, if any line of it can be read."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raw = None
    if isinstance(raw, dict) and isinstance(raw.get("name"), str):
        return raw["name"]
    try:      # the YAML does not parse: a plain `name: x` line still says which deployment
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() == "name" and not line[:1].isspace():
                return value.split("#")[0].strip().strip("'\"") or None
    except OSError:
        return None
    return None


def _deployments(kit_dir: Path) -> list[str]:
    if not kit_dir.is_dir():
        return []
    return sorted(p.name for p in kit_dir.iterdir()
                  if p.is_dir() and p.name not in RESERVED_NAMES and (p / "state.json").is_file())


def from_state(config_file: Path, error: KitError) -> "KitConfig":
    """The recorded config of the deployment `config_file` names, for `kit down` when loading
    the file failed with `error`; raises `error` (with a hint) when there is none to use."""
    from kit.config import parse

    if not config_file.is_file():
        raise error
    kit_dir = config_file.resolve().parent / ".kit"
    found = _deployments(kit_dir)
    name = _name_in(config_file)
    if name not in found:
        name = found[0] if len(found) == 1 and name is None else None
    if name is None:
        raise KitError(error.message, hint=(
            f"{error.hint + '; ' if error.hint else ''}no deployment of it is recorded in "
            f"{kit_dir}" + (f" (there are: {', '.join(found)})" if found else "")))
    state: dict[str, Any] = read_json(kit_dir / name / "state.json") or {}
    recorded = state.get(KEY)
    if not isinstance(recorded, dict):
        raise KitError(error.message, hint=(
            f"{error.hint + '; ' if error.hint else ''}deployment {name} was brought up by an "
            "older kit that did not record its configuration: fix the file, then `kit down`"))
    try:
        return parse(recorded, source=str(kit_dir / name / "state.json"),
                     base_dir=config_file.resolve().parent)
    except KitError:
        raise error from None
