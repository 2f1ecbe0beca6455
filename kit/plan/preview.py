"""`kit plan` with credentials: a real `pulumi preview` of the same program through the
Automation API (inline program, so an installed wheel needs no Pulumi.yaml on disk)."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Callable

from kit.errors import KitError, require

if TYPE_CHECKING:
    from kit.config import KitConfig
    from stacks.settings import AwsOptions


def preview(cfg: "KitConfig", *, purge: bool = False, aws: "AwsOptions | None" = None,
            on_output: Callable[[str], None] = print) -> dict[str, int]:
    """Run `pulumi preview` for cfg's stack; returns the change summary (op -> count)."""
    if shutil.which("pulumi") is None:
        raise KitError("kit plan: the Pulumi CLI is not installed, so a live preview cannot run",
                       hint="run `kit plan --offline` (no CLI or credentials needed), or install "
                            "the CLI: https://www.pulumi.com/docs/install/")
    auto = require("pulumi.automation", "aws")
    from stacks import program
    from stacks.settings import PROJECT, stack_config

    settings = auto.ProjectSettings(name=PROJECT, runtime="python",
                                    backend=auto.ProjectBackend(url=cfg.state_url))
    env = {k: v for k, v in os.environ.items() if k.startswith("PULUMI_CONFIG_PASSPHRASE")}
    opts = auto.LocalWorkspaceOptions(project_settings=settings, env_vars=env,
                                      secrets_provider=None if env else "passphrase")
    try:
        stack = auto.create_or_select_stack(stack_name=cfg.name, project_name=PROJECT,
                                            program=program.main, opts=opts)
        stack.set_all_config({k: auto.ConfigValue(value=v)
                              for k, v in stack_config(cfg, purge=purge, aws=aws).items()})
        result = stack.preview(on_output=on_output)
    except auto.errors.CommandError as exc:
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        raise KitError(f"kit plan: pulumi preview failed: {lines[-1] if lines else exc}",
                       hint="rerun with --debug for the full log") from None
    return dict(result.change_summary)
