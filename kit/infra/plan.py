"""Run the stack program in-process under Pulumi's mock runtime and collect what it would
register: no credentials, no Pulumi CLI, no provider plugins.

The Pulumi runtime keeps global state (settings, the root stack, config, outstanding RPCs);
each run resets all of it first and holds a lock, so plans can run many times in a process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kit.errors import KitError, require

if TYPE_CHECKING:
    from kit.config import KitConfig
    from stacks.plan_mocks import PlanMocks

_LOCK = threading.Lock()


@dataclass
class Plan:
    stack: str
    resources: list[dict[str, Any]]
    outputs: dict[str, Any] = field(default_factory=dict)
    placeholders: str = ""          # what the mocks made up (ids, a placeholder account)

    def of_type(self, typ: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == typ]

    def one(self, typ: str, name: str | None = None) -> dict[str, Any]:
        found = [r for r in self.of_type(typ) if name is None or r["name"] == name]
        if len(found) != 1:
            raise LookupError(f"{len(found)} resources of type {typ} named {name!r}")
        return found[0]


def offline_plan(cfg: "KitConfig", *, purge: bool = False, run_id: str | None = None,
                 adopt: dict[str, str] | None = None) -> Plan:
    """Every resource the stack for `cfg` would register, with its inputs and options, under
    the mocks of cfg's target."""
    from kit.targets import support_for

    support = support_for(cfg.target)
    support.use(support.build)         # a one-line error where the target has no stack
    require("pulumi", support.extra)
    from kit.infra.mocks import mocks_for

    return run_plan(cfg, mocks_for(cfg), purge=purge, run_id=run_id, adopt=adopt)


def run_plan(cfg: "KitConfig", mocks: "PlanMocks", *, purge: bool = False, run_id: str | None = None,
             adopt: dict[str, str] | None = None) -> Plan:
    """The stack program for `cfg` under `mocks` (pulumi.runtime.Mocks), recorded."""
    from pulumi.runtime import config as pconfig
    from pulumi.runtime import settings
    from pulumi.runtime.mocks import set_mocks
    from pulumi.runtime.stack import run_in_stack
    from pulumi.runtime.sync_await import _sync_await

    from kit.infra.mocks import RecordingMonitor
    from stacks import program
    from stacks.settings import PROJECT, stack_config

    # A plan is read, never applied: an image not locked yet shows at its release tag, marked.
    config = stack_config(cfg, purge=purge, run_id=run_id, adopt=adopt, review=True)
    monitor = RecordingMonitor(mocks)
    with _LOCK:
        settings.SETTINGS.rpc_manager.clear()
        pconfig.set_all_config(config, [])
        # set_mocks makes a root stack only when none exists; run_in_stack makes the real one.
        settings.ROOT.set(object())
        set_mocks(monitor.mocks, project=PROJECT, stack=cfg.name, preview=False, monitor=monitor)
        settings.ROOT.set(None)
        try:
            _sync_await(run_in_stack(program.main))
        except KitError:
            raise
        except Exception as exc:
            cause = _kit_error_in(exc)
            if cause is not None:
                raise cause from None
            raise
        finally:
            settings.SETTINGS.rpc_manager.clear()
            settings.ROOT.set(None)
    resources = sorted((r for r in monitor.records if r["custom"]),
                       key=lambda r: (r["type"], r["name"]))
    return Plan(stack=cfg.name, resources=resources, outputs=monitor.outputs,
                placeholders=mocks.placeholders)


def _kit_error_in(exc: BaseException) -> KitError | None:
    """Pulumi wraps errors raised inside apply callbacks; find the user-facing one."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KitError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
