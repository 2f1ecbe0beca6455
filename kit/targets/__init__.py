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
    try:
        from kit.targets.cluster import ClusterTarget
    except ModuleNotFoundError as exc:
        if exc.name != "kit.targets.cluster":
            raise
        raise KitError(f"target: {cfg.target}: this install has no cluster support",
                       hint="pip install 'lima-kit[kubernetes]' (or [aws])") from None
    return ClusterTarget(cfg)
