"""Blockers: what would stop `kit up`, knowable from kit.yaml alone, before anything exists.

`kit plan --offline` lists them first (`blockers` in its JSON, each {check, detail, fix});
`kit up` refuses while any stands (`refuse`), before it asks for confirmation or reaches the
Pulumi driver; `kit doctor` reports them among its checks. Each check is a function of the
config only: no credentials, no network, no cloud SDK. Checks that need the world (a gated
model's licence, quotas) belong to `kit doctor`, which asks it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable

from kit.errors import KitError

if TYPE_CHECKING:
    from kit.config import KitConfig
    from stacks.clouds import Reach


@dataclass(frozen=True)
class Blocker:
    check: str
    detail: str
    fix: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def reach(cfg: "KitConfig") -> list["Reach"]:
    """How the operator's machine reaches what `kit up` talks to (empty for local)."""
    from kit.targets import support_for

    return support_for(cfg.target).operator_reach(cfg)


def operator_path(cfg: "KitConfig") -> list[Blocker]:
    """`kit up` creates Kubernetes objects and mirrors images and weights from this machine:
    each thing it must reach needs a path from here."""
    closed = [r for r in reach(cfg) if r.needed and not r.open]
    if not closed:
        return []
    names = ", ".join(r.what for r in closed)
    them = "them" if len(closed) > 1 else "it"
    return [Blocker("operator path",
                    f"{names}: not reachable from this machine ({closed[0].source}), yet "
                    f"`kit up` talks to {them} from here, in the run that creates the network",
                    closed[0].fix)]


def gpu_fit(cfg: "KitConfig") -> list[Blocker]:
    """The fine-tune (and the LoRA merge after it) must fit the pool's GPUs and the pod's host
    memory (kit.estimate.fit), or it fails after the whole run has been paid for."""
    from kit.estimate.fit import assess
    from kit.targets import support_for

    if not support_for(cfg.target).gpu_pool:   # gpu.type only names what an estimate assumes
        return []
    try:
        found = assess(cfg).problems
    except KitError as exc:          # a gpu.type or gpu.count the cloud does not offer
        return [Blocker("gpu fit", exc.message, exc.hint or "see `kit doctor`")]
    out = []
    for line in found:               # "gpu: what is needed and offered: what would fit"
        detail, _, fix = line.removeprefix("gpu: ").rpartition(": ")
        out.append(Blocker("gpu fit", detail, fix))
    return out


# Every config-only check. Each returns its blockers (none when the config is fine).
CHECKS: list[Callable[["KitConfig"], list[Blocker]]] = [operator_path, gpu_fit]


def blockers(cfg: "KitConfig") -> list[Blocker]:
    return [b for check in CHECKS for b in check(cfg)]


def refuse(cfg: "KitConfig") -> None:
    """Stop `kit up` before anything is created while a blocker stands: one line, the fix."""
    found = blockers(cfg)
    if not found:
        return
    first = found[0]
    more = f" (and {len(found) - 1} more: kit plan --offline lists them)" if len(found) > 1 else ""
    raise KitError(f"kit up {cfg.name}: blocked: {first.check}: {first.detail}{more}; "
                   "nothing was created", hint=first.fix)
