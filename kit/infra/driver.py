"""Pulumi through its Automation API: the stack of one deployment, its backend and secrets,
preview / up / destroy with the engine's events shown as progress, and recovery guidance
when an earlier run left the stack locked or with pending operations.

The program is inline (stacks.program.main runs in this process), so an installed wheel
needs no Pulumi.yaml on disk. How the stack is reached comes in one bundle (StackAccess:
`real_access` for the real workspace, fakes in tests), so tests drive the very code below.
State lives where kit.yaml's `state:` says (default file://<kit.yaml folder>/.kit/state);
secrets use a passphrase for file:// state (kept in a 0600 file in the workdir unless
PULUMI_CONFIG_PASSPHRASE[_FILE] is set) and, for bucket state, the KMS of the cloud whose
buckets hold it (its CloudSupport names the provider).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from rich.console import Console

from kit.errors import KitError, require
from kit.workdir import write_private
from stacks.clouds import secrets_provider
from stacks.settings import PROJECT

if TYPE_CHECKING:
    from kit.config import KitConfig
    from stacks.clouds import CloudSupport
    from stacks.contract import ClusterOutputs

INSTALL_HINT = "install it: curl -fsSL https://get.pulumi.com | sh (https://www.pulumi.com/docs/install/)"


def stack_env(cfg: "KitConfig", *, create: bool) -> dict[str, str]:
    """Environment for the Pulumi CLI: the passphrase (file) for file:// state."""
    env = {k: v for k, v in os.environ.items()
           if k in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")}
    if env or secrets_provider(cfg) != "passphrase":
        return env
    path = cfg.workdir.passphrase
    if not path.exists() and create:
        write_private(path, secrets.token_urlsafe(32), exclusive=True)
    return {"PULUMI_CONFIG_PASSPHRASE_FILE": str(path)} if path.exists() else {}


def stack_name(cfg: "KitConfig") -> str:
    """Fully qualified, as the CLI needs it outside a project folder (self-managed backend)."""
    return f"organization/{PROJECT}/{cfg.name}"


def kit_path() -> str:
    """PATH for the engine and its plugins with this kit's own bin folder first: a cluster's
    kubeconfig may run `kit cluster-token` (kit.cluster.credential), also on a `destroy`,
    which uses the provider settings saved in the state, never a token that has expired."""
    own = str(Path(sys.executable).parent)
    rest = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != own]
    return os.pathsep.join([own, *rest])


def open_stack(cfg: "KitConfig", env: dict[str, str]) -> Any:
    """The real workspace: create or select the deployment's stack with the inline program."""
    auto = require("pulumi.automation", "kubernetes")
    from stacks import program

    state = cfg.state_url
    if state.startswith("file://"):
        Path(state[len("file://"):]).mkdir(parents=True, exist_ok=True)
    settings = auto.ProjectSettings(name=PROJECT, runtime="python",
                                    backend=auto.ProjectBackend(url=state))
    opts = auto.LocalWorkspaceOptions(project_settings=settings, env_vars={**env, "PATH": kit_path()},
                                      secrets_provider=secrets_provider(cfg))
    return auto.create_or_select_stack(stack_name=cfg.name, project_name=PROJECT,
                                       program=program.main, opts=opts)


@dataclass
class StackAccess:
    """How the driver reaches a deployment's stack: `real_access` for the real workspace."""

    open: Callable[["KitConfig", dict[str, str]], Any]  # (cfg, env) -> Automation API stack
    which: Callable[[str], str | None]                  # finds the Pulumi CLI
    confirm: Callable[[str], bool]                      # asks the operator a yes/no question
    support: "CloudSupport"                             # adoption and purge of kept resources


def real_access(cfg: "KitConfig", *, confirm: Callable[[str], bool]) -> StackAccess:
    from stacks.clouds import cloud_support

    return StackAccess(open=open_stack, which=shutil.which, confirm=confirm,
                       support=cloud_support(cfg.target))


class Progress:
    """Engine events -> one line per finished resource step, and the errors kept for the end."""

    VERBS = {"create": "created", "update": "updated", "delete": "deleted", "replace": "replaced",
             "create-replacement": "created (replacement)", "delete-replaced": "deleted (replaced)",
             "read": "read", "refresh": "refreshed", "import": "imported"}

    def __init__(self, console: Console) -> None:
        self.console = console
        self.errors: list[str] = []
        self.counts: dict[str, int] = {}

    def __call__(self, event: Any) -> None:
        done = getattr(event, "res_outputs_event", None)
        failed = getattr(event, "res_op_failed_event", None)
        diag = getattr(event, "diagnostic_event", None)
        if done is not None and not getattr(done, "planning", False) \
                and not done.metadata.type.startswith("pulumi:"):
            op = getattr(done.metadata.op, "value", done.metadata.op)
            if op == "same":
                return
            self.counts[op] = self.counts.get(op, 0) + 1
            name = done.metadata.urn.rsplit("::", 1)[-1]
            self.console.print(f"    {self.VERBS.get(op, op)} {done.metadata.type} [bold]{name}[/]")
        elif failed is not None:
            name = failed.metadata.urn.rsplit("::", 1)[-1]
            self.console.print(f"    [red]failed[/] {failed.metadata.type} [bold]{name}[/]")
        elif diag is not None and diag.severity == "error":
            text = " ".join(diag.message.split())
            if text and text not in self.errors:
                self.errors.append(text)


def _pending(stack: Any) -> list[dict[str, Any]]:
    state = stack.export_stack().deployment or {}
    return list(state.get("pending_operations") or [])


class Infra:
    """The Pulumi stack of one deployment."""

    def __init__(self, cfg: "KitConfig", console: Console, access: StackAccess) -> None:
        self.cfg = cfg
        self.console = console
        self.access = access

    # --- the stack -----------------------------------------------------------------------

    def _stack(self, *, purge: bool = False, create: bool = True) -> Any:
        if self.access.which("pulumi") is None:
            raise KitError("the Pulumi CLI is not installed (`pulumi` is not on PATH)",
                           hint=INSTALL_HINT)
        auto = require("pulumi.automation", "kubernetes")
        env = stack_env(self.cfg, create=create)
        try:
            stack = self.access.open(self.cfg, env)
            self._configure(stack, purge=purge, adopt={})
        except auto.errors.CommandError as exc:
            raise self._error("open the stack", exc) from None
        return stack

    def _configure(self, stack: Any, *, purge: bool, adopt: dict[str, str]) -> None:
        from stacks.settings import stack_config

        auto = require("pulumi.automation", "kubernetes")
        values = stack_config(self.cfg, purge=purge, run_id=None, adopt=adopt)
        stack.set_all_config({k: auto.ConfigValue(value=v) for k, v in values.items()})

    def _adopt(self, stack: Any, *, purge: bool) -> None:
        """Before up/preview: import what an earlier `kit down` kept instead of creating it
        again (its names are fixed, so a create would collide with it)."""
        found = self.access.support.adopt(self.cfg, stack.export_stack().deployment or {})
        if not found:
            return
        for logical, ident in sorted(found.items()):
            self.console.print(f"    adopting {logical} [bold]{ident}[/] (kept by an earlier `kit down`)")
        auto = require("pulumi.automation", "kubernetes")
        try:
            self._configure(stack, purge=purge, adopt=found)
        except auto.errors.CommandError as exc:
            raise self._error("set the stack config", exc) from None

    def _recover(self, stack: Any) -> None:
        """Pending operations: an earlier run stopped mid-change. Show them and the way out."""
        pending = _pending(stack)
        if not pending:
            return
        self.console.print(f"[yellow]stack {self.cfg.name} has {len(pending)} pending operation(s) "
                           "from an interrupted run[/]; these resources may or may not exist:")
        for op in pending:
            res = op.get("resource") or {}
            self.console.print(f"    {op.get('type', '?')}: {res.get('type', '?')} "
                               f"{str(res.get('urn', '?')).rsplit('::', 1)[-1]} {res.get('id') or ''}")
        for line in self.recovery_steps():
            self.console.print(f"    {line}")
        if not self.access.confirm("Refresh the stack now (pulumi refresh --clear-pending-creates)?"):
            raise KitError(f"stack {self.cfg.name}: {len(pending)} pending operation(s) from an "
                           "interrupted run", hint="follow the steps above, then run the command again")
        stack.refresh(clear_pending_creates=True, on_event=Progress(self.console))

    def recovery_steps(self) -> list[str]:
        """Commands to reconcile by hand. They say where the passphrase is, never what it is:
        a passphrase from the environment stays a reference to that variable."""
        env = " ".join(f"{k}={v}" if k == "PULUMI_CONFIG_PASSPHRASE_FILE" else f'{k}="${k}"'
                       for k, v in stack_env(self.cfg, create=False).items())
        prefix = f"PULUMI_BACKEND_URL={self.cfg.state_url} {env}".strip()
        name = stack_name(self.cfg)
        export = self.cfg.workdir.stack_export
        return [
            "to reconcile with what exists (a pending create that did finish is then orphaned:",
            "check the cloud console for it), either:",
            f"  {prefix} pulumi refresh --stack {name} --clear-pending-creates --yes",
            "or edit the state by hand:",
            f"  {prefix} pulumi stack export --stack {name} --file {export}",
            f"  (delete the entries of \"pending_operations\" in {export})",
            f"  {prefix} pulumi stack import --stack {name} --file {export}",
        ]

    def _error(self, action: str, exc: Exception) -> KitError:
        text = str(exc)
        lines = [" ".join(ln.split()) for ln in text.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.lower().startswith("error:")]
        last = (errors or lines or [type(exc).__name__])[-1]
        prefix = f"PULUMI_BACKEND_URL={self.cfg.state_url}"
        if "currently locked" in text or "ConcurrentUpdateError" in type(exc).__name__ \
                or "conflict" in text.lower() and "update" in text.lower():
            return KitError(f"stack {self.cfg.name}: another update holds the lock: {last}",
                            hint=f"if no other `kit up`/`kit down` runs, remove the stale lock: "
                                 f"{prefix} pulumi cancel --stack {stack_name(self.cfg)} --yes")
        if "passphrase" in text.lower():
            return KitError(f"stack {self.cfg.name}: the secrets passphrase is missing or wrong: {last}",
                            hint=f"it is in {self.cfg.workdir.passphrase} unless "
                                 "PULUMI_CONFIG_PASSPHRASE(_FILE) is set; restore that file")
        return KitError(f"pulumi {action} failed: {last}",
                        hint="rerun with --debug for the engine's full log")

    def _run(self, action: str, fn: Callable[[Progress], Any]) -> tuple[Any, Progress]:
        auto = require("pulumi.automation", "kubernetes")
        progress = Progress(self.console)
        try:
            return fn(progress), progress
        except auto.errors.CommandError as exc:
            err = self._error(action, exc)
            if progress.errors and "failed:" in err.message:
                err = KitError(f"pulumi {action} failed: {progress.errors[-1]}", hint=err.hint)
            raise err from None

    # --- operations ----------------------------------------------------------------------

    def preview(self, *, purge: bool = False,
                on_output: Callable[[str], None] | None = None) -> dict[str, int]:
        stack = self._stack(purge=purge)
        self._adopt(stack, purge=purge)
        result, _ = self._run("preview", lambda p: stack.preview(on_output=on_output, on_event=p))
        return dict(result.change_summary)

    def up(self) -> tuple["ClusterOutputs", dict[str, int]]:
        """Create or update the stack; returns the cluster's outputs and the change counts."""
        stack = self._stack()
        self._recover(stack)
        self._adopt(stack, purge=False)
        result, progress = self._up_through_propagation(stack)
        changes = {k: v for k, v in (result.summary.resource_changes or {}).items() if k != "same"}
        return outputs_from({k: v.value for k, v in result.outputs.items()}), changes

    def _up_through_propagation(self, stack: Any) -> tuple[Any, Progress]:
        """`up`, run again after a wait while it fails only on a grant still propagating
        (kit.infra.propagation)."""
        import time

        from kit.infra.propagation import WAITS_S, propagating

        waits = list(WAITS_S)
        while True:
            try:
                return self._run("up", lambda p: stack.up(on_event=p))
            except KitError as exc:
                if not waits or not propagating(exc.message, self.access.support.propagation_errors):
                    raise
                wait = waits.pop(0)
                self.console.print(f"  a role this run granted is not in effect yet ({exc.message[:120]}); "
                                   f"grants take minutes to propagate: running up again in {wait}s",
                                   highlight=False, markup=False)
                time.sleep(wait)

    def outputs(self) -> "ClusterOutputs | None":
        stack = self._stack(create=False)
        values = {k: v.value for k, v in stack.outputs().items()}
        return outputs_from(values) if values else None

    def destroy(self, *, purge: bool) -> list[str]:
        """Destroy the stack. With purge, an update first drops retainOnDelete from the kit's
        buckets (Pulumi reads resource options from state), so destroy deletes them too; if
        the state is empty, what an earlier plain `kit down` kept is deleted directly."""
        stack = self._stack(purge=purge)
        self._recover(stack)
        state = (stack.export_stack().deployment or {}) if purge else {}
        if purge and not holds_resources(state):
            # A plain `kit down` ran before: the purge `up` would rebuild the whole stack only
            # to destroy it. Delete what that down kept directly (the cloud's purge_kept).
            done = self.access.support.purge_kept(self.cfg) or \
                [f"nothing kept by an earlier `kit down` of {self.cfg.name}"]
            if state.get("resources"):  # the root stack / providers only: no cloud change
                self._run("destroy", lambda p: stack.destroy(on_event=p))
        else:
            done = []
            if purge:
                self._run("up (purge settings)", lambda p: stack.up(on_event=p))
                done.append("marked the kit's buckets and key for deletion (--purge)")
            result, progress = self._run("destroy", lambda p: stack.destroy(on_event=p))
            deleted = (result.summary.resource_changes or {}).get("delete", 0)
            done.append(f"destroyed stack {self.cfg.name}: {deleted} resource(s) deleted")
        if purge:
            stack.workspace.remove_stack(self.cfg.name)
            done.append(f"removed stack {self.cfg.name} from {self.cfg.state_url}")
        return done


def holds_resources(deployment: dict[str, Any]) -> bool:
    """Whether the state holds any cloud resource (the root stack and providers aside)."""
    return any(not str(res.get("type", "")).startswith("pulumi:")
               for res in deployment.get("resources") or [])


def outputs_from(values: dict[str, Any]) -> "ClusterOutputs":
    """Stack outputs -> ClusterOutputs (unknown keys ignored, so older stacks still read)."""
    from stacks.contract import ClusterOutputs

    names = {f.name for f in fields(ClusterOutputs)}
    if not values.get("cloud") or not values.get("cluster_name"):
        raise KitError("the stack exported no cluster outputs (cloud, cluster_name)",
                       hint="rerun `kit up`; if it persists, rerun with --debug")
    return ClusterOutputs(**{k: v for k, v in values.items() if k in names})
