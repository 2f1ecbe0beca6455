"""The stack's config (declared in Pulumi.yaml): the validated kit.yaml as JSON, plus what
`kit up` decides per update (purge, the run to render, resources to adopt).

Why JSON in stack config rather than a path to kit.yaml: the stack then depends on nothing
outside Pulumi's own settings, so `pulumi up`, the Automation API and the offline plan all see
exactly the same validated config, and the stack's config records what was deployed. Every
cloud option is declared once, in kit.yaml's schema (stacks/<cloud>/options.py); the program
reads it from `kit`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kit.config import KitConfig

PROJECT = "lima-kit"


@dataclass
class StackSettings:
    kit: "KitConfig"
    purge: bool = False
    run_id: str | None = None
    # Set by `kit up`, not by users: logical name -> physical id of a resource an earlier
    # `kit down` of this stack kept, which the program imports instead of creating.
    adopt: dict[str, str] = field(default_factory=dict)
    # The digests (from the images lock) of the images the program itself runs.
    images: dict[str, str] = field(default_factory=dict)
    # For reading only (the offline plan): an image not locked yet shows its release tag.
    review: bool = False


def adoptions(settings: StackSettings, adoptable: tuple[str, ...]) -> dict[str, str]:
    """The stack config's `adopt`, every name one of the cloud's adoptable resources."""
    from kit.errors import KitError

    unknown = sorted(set(settings.adopt) - set(adoptable))
    if unknown:
        raise KitError(f"stack config {PROJECT}:adopt: no adoptable resource named {unknown[0]!r}",
                       hint=f"adoptable: {', '.join(adoptable)}")
    return dict(settings.adopt)


def held_in_state(deployment: dict[str, Any], types: dict[str, str]) -> set[str]:
    """Logical names (of `types`: logical name -> Pulumi type) the stack's state holds, so
    adoption asks the cloud only about the others."""
    held = set()
    for res in deployment.get("resources") or []:
        name = str(res.get("urn", "")).rsplit("::", 1)[-1]
        if types.get(name) == res.get("type") and not res.get("delete"):
            held.add(name)
    return held


def stack_config(cfg: "KitConfig", *, purge: bool = False, run_id: str | None = None,
                 adopt: dict[str, str] | None = None, review: bool = False) -> dict[str, str]:
    """Fully qualified stack config (key -> string value, as `pulumi config` stores it)."""
    from kit.images import current_lock
    from stacks.clouds import cloud_support

    wanted = cloud_support(cfg.target).stack_images
    images = {n: ref for n, ref in current_lock(cfg.workdir).items() if n in wanted}
    values: dict[str, Any] = {"kit": cfg.model_dump_json(), "baseDir": str(cfg.base_dir.resolve()),
                              "purge": purge, "runId": run_id or "", "adopt": dict(adopt or {}),
                              "images": images, "review": review}
    return {f"{PROJECT}:{key}": value if isinstance(value, str) else json.dumps(value)
            for key, value in values.items()}


def load() -> StackSettings:
    """Read the settings inside a running Pulumi program (real engine or mocks)."""
    import pulumi

    from kit.config import KitConfig
    from kit.errors import KitError

    conf = pulumi.Config(PROJECT)
    kit = KitConfig.model_validate({**json.loads(conf.require("kit")),
                                    "base_dir": conf.get("baseDir") or "."})
    adopt = conf.get_object("adopt") or {}
    if not isinstance(adopt, dict) or not all(isinstance(v, str) for v in adopt.values()):
        raise KitError(f"stack config {PROJECT}:adopt: must be a JSON object of name -> id")
    from kit.images import check

    images = check(conf.get_object("images") or {}, source=f"stack config {PROJECT}:images")
    return StackSettings(kit=kit, purge=bool(conf.get_bool("purge")),
                         run_id=conf.get("runId") or None, adopt=adopt, images=images,
                         review=bool(conf.get_bool("review")))
