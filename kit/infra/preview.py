"""`kit plan` with credentials: a real `pulumi preview` of the same stack `kit up` deploys,
through kit.infra.driver (same backend, secrets provider and stack config)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from kit.errors import KitError

if TYPE_CHECKING:
    from kit.config import KitConfig


def preview(cfg: "KitConfig", *, purge: bool = False,
            on_output: Callable[[str], None] = print) -> dict[str, int]:
    """Run `pulumi preview` for cfg's stack; returns the change summary (op -> count)."""
    from rich.console import Console

    from kit.infra.driver import Infra, real_access

    access = real_access(cfg, confirm=lambda _q: False)
    try:
        return Infra(cfg, Console(stderr=True), access).preview(purge=purge, on_output=on_output)
    except KitError as exc:
        if "Pulumi CLI is not installed" not in exc.message:
            raise
        raise KitError(f"kit plan: {exc.message}, so a live preview cannot run",
                       hint=f"run `kit plan --offline` (no CLI or credentials needed), or {exc.hint}"
                       ) from None
