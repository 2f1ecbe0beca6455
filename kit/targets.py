"""Every target kit.yaml can name, this machine included: its name -> its support object
(stacks.clouds.CloudSupport), the one place neutral code learns what a target can do.

The cluster targets are stacks' own registry (stacks.clouds.REGISTRY); `local` registers here,
its support object in kit/local/support.py, so stacks never import the kit to know it.
"""

from __future__ import annotations

import importlib

from kit.errors import KitError
from stacks import clouds
from stacks.clouds import CloudSupport

# This machine: no stack, no cluster (kit.local).
LOCAL = {"local": "kit.local.support"}


def registry() -> dict[str, str]:
    """Target name -> the module whose SUPPORT describes it, local first."""
    return {**LOCAL, **clouds.REGISTRY}


def names() -> tuple[str, ...]:
    return tuple(registry())


def support_for(target: str) -> CloudSupport:
    """The support object of any target kit.yaml can name."""
    ref = registry().get(target)
    if ref is None:
        raise KitError(f"target: {target} is not supported by this version of lima-kit",
                       hint=f"supported: {', '.join(registry())}")
    return importlib.import_module(ref).SUPPORT


def all_targets() -> list[CloudSupport]:
    return [support_for(target) for target in registry()]


def sections() -> dict[str, type]:
    """Target -> the pydantic model of its kit.yaml section, for each target that has one
    (CloudSupport.options, "module:Class"): kit.config adds them to KitConfig by name."""
    out = {}
    for support in all_targets():
        if support.options:
            module, _, name = support.options.partition(":")
            out[support.target] = getattr(importlib.import_module(module), name)
    return out
