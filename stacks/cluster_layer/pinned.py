"""An image the stack's own program runs (the device plugin, a cloud's autoscaler), pinned
like every other: the digest the images lock holds (it travels in the stack config), pulled
through the registry prefix. Only a plan to read (review) may show a release tag, marked."""

from __future__ import annotations

from typing import Any


def pinned(cfg: Any, name: str, locked: dict[str, str], registry_prefix: str, *,
           review: bool) -> tuple[str, dict[str, str]]:
    """(reference, annotations for the object that runs it); a KitError when not locked and
    not a review."""
    from kit.images import mirror_join, resolve
    from kit.render import UNPINNED

    ref = resolve(cfg.workdir, [name], locked, registry_prefix=registry_prefix,
                  join=mirror_join(cfg), review=review)[name]
    return ref, ({} if name in locked else {UNPINNED: name})
