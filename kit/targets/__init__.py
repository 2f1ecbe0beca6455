"""Where a deployment runs. `for_config` picks the Target for kit.yaml's `target:`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kit.errors import KitError

if TYPE_CHECKING:
    from kit.config import KitConfig
    from kit.targets.base import Target


def for_config(cfg: "KitConfig") -> "Target":
    if cfg.target == "local":
        from kit.targets.local import LocalTarget

        return LocalTarget(cfg)
    raise KitError(
        f"target: {cfg.target}: `kit up` for clusters is not in this release yet; "
        "`kit plan --offline` and `kit render` already work for it",
        hint="use target: local to run on this machine")
