"""Pulumi through its Automation API: the stack of one deployment, its backend and secrets,
preview / up / destroy with the engine's events shown as progress, and recovery guidance
when an earlier run left the stack locked or with pending operations.

The program is inline (stacks.program.main runs in this process), so an installed wheel
needs no Pulumi.yaml on disk. The workspace is injected (`opener`), so tests drive the very
code below with a fake stack. State lives where kit.yaml's `state:` says (default
file://<kit.yaml folder>/.kit/state); secrets use a passphrase for file:// state (kept in a
0600 file in the workdir unless PULUMI_CONFIG_PASSPHRASE[_FILE] is set) and the cloud's KMS
for bucket state.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from rich.console import Console

from kit.errors import KitError, require

if TYPE_CHECKING:
    from kit.config import KitConfig
    from stacks.contract import ClusterOutputs
    from stacks.settings import AwsOptions

PROJECT = "lima-kit"                 # stacks.settings.PROJECT (not imported: it pulls no SDK,
PASSPHRASE_FILE = "pulumi-passphrase"  # but keeps this module importable without stacks/)
SECRETS_ENV = "LIMA_KIT_SECRETS_PROVIDER"
INSTALL_HINT = "install it: curl -fsSL https://get.pulumi.com | sh (https://www.pulumi.com/docs/install/)"

# State URL scheme -> default secrets provider ({region}: kit.yaml region). Bucket state needs a
# key in the same cloud; gs:// and azblob:// keys cannot be derived from kit.yaml.
SECRETS_PROVIDERS = {"file": "passphrase", "s3": "awskms://alias/lima-kit-state?region={region}"}


def secrets_provider(cfg: "KitConfig") -> str:
    if os.environ.get(SECRETS_ENV):
        return os.environ[SECRETS_ENV]
    scheme = cfg.state_url.split("://", 1)[0]
    template = SECRETS_PROVIDERS.get(scheme)
    if template is None:
        raise KitError(f"state: {cfg.state_url}: no default secrets provider for {scheme}:// state",
                       hint=f"set {SECRETS_ENV} to a Pulumi secrets provider URL, e.g. "
                            "gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K")
    if "{region}" in template and not cfg.region:
        raise KitError(f"state: {cfg.state_url}: the KMS key's region is unknown",
                       hint=f"set region: in kit.yaml, or {SECRETS_ENV}")
    return template.format(region=cfg.region)


def stack_env(cfg: "KitConfig", *, create: bool) -> dict[str, str]:
    """Environment for the Pulumi CLI: the passphrase (file) for file:// state."""
    env = {k: v for k, v in os.environ.items()
           if k in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")}
    if env or secrets_provider(cfg) != "passphrase":
        return env
    path = cfg.workdir / PASSPHRASE_FILE
    if not path.exists() and create:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    return {"PULUMI_CONFIG_PASSPHRASE_FILE": str(path)} if path.exists() else {}


def stack_name(cfg: "KitConfig") -> str:
    """Fully qualified, as the CLI needs it outside a project folder (self-managed backend)."""
    return f"organization/{PROJECT}/{cfg.name}"


def open_stack(cfg: "KitConfig", env: dict[str, str]) -> Any:
    """The real workspace: create or select the deployment's stack with the inline program."""
    auto = require("pulumi.automation", "kubernetes")
    from stacks import program

    state = cfg.state_url
    if state.startswith("file://"):
        Path(state[len("file://"):]).mkdir(parents=True, exist_ok=True)
    settings = auto.ProjectSettings(name=PROJECT, runtime="python",
                                    backend=auto.ProjectBackend(url=state))
    opts = auto.LocalWorkspaceOptions(project_settings=settings, env_vars=env,
                                      secrets_provider=secrets_provider(cfg))
    return auto.create_or_select_stack(stack_name=cfg.name, project_name=PROJECT,
                                       program=program.main, opts=opts)


def aws_options(cfg: "KitConfig") -> "AwsOptions":
    """kit.yaml's aws: section -> the stack's AwsOptions (unset values keep the defaults)."""
    from stacks.settings import AwsOptions

    names = {f.name for f in fields(AwsOptions)}
    raw = cfg.aws.model_dump()
    return AwsOptions(**{k: v for k, v in raw.items() if k in names and v is not None})


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

    def __init__(self, cfg: "KitConfig", console: Console, *,
                 opener: Callable[["KitConfig", dict[str, str]], Any] = open_stack,
                 which: Callable[[str], str | None] = shutil.which,
                 confirm: Callable[[str], bool] = lambda _q: False,
                 aws: "AwsOptions | None" = None,
                 adopter: "Callable[[KitConfig, dict[str, Any]], dict[str, str]] | None" = None,
                 purger: "Callable[[KitConfig], list[str]] | None" = None) -> None:
        self.cfg = cfg
        self.aws = aws
        self.console = console
        self.opener = opener
        self.which = which
        self.confirm = confirm
        # Which kept resources to import (kit/adopt.py). The real stack deploys to the real
        # cloud, so it gets the real check; an injected (fake) workspace gets none by default.
        self.adopter = adopter or (_real_adopter if opener is open_stack else None)
        # What deletes the kept resources when `--purge` finds the stack's state empty (same rule).
        self.purger = purger or (_real_purger if opener is open_stack else None)

    # --- the stack -----------------------------------------------------------------------

    def _stack(self, *, purge: bool = False, create: bool = True) -> Any:
        if self.which("pulumi") is None:
            raise KitError("the Pulumi CLI is not installed (`pulumi` is not on PATH)",
                           hint=INSTALL_HINT)
        auto = require("pulumi.automation", "kubernetes")
        env = stack_env(self.cfg, create=create)
        try:
            stack = self.opener(self.cfg, env)
            self._configure(stack, purge=purge, adopt={})
        except auto.errors.CommandError as exc:
            raise self._error("open the stack", exc) from None
        return stack

    def _configure(self, stack: Any, *, purge: bool, adopt: dict[str, str]) -> None:
        from stacks.settings import stack_config

        auto = require("pulumi.automation", "kubernetes")
        options = replace(self.aws or aws_options(self.cfg), adopt=adopt)
        values = stack_config(self.cfg, purge=purge, aws=options, run_id=None)
        stack.set_all_config({k: auto.ConfigValue(value=v) for k, v in values.items()})

    def _adopt(self, stack: Any, *, purge: bool) -> None:
        """Before up/preview: import what an earlier `kit down` kept instead of creating it
        again (its names are fixed, so a create would collide with it)."""
        if self.adopter is None:
            return
        found = self.adopter(self.cfg, stack.export_stack().deployment or {})
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
        if not self.confirm("Refresh the stack now (pulumi refresh --clear-pending-creates)?"):
            raise KitError(f"stack {self.cfg.name}: {len(pending)} pending operation(s) from an "
                           "interrupted run", hint="follow the steps above, then run the command again")
        stack.refresh(clear_pending_creates=True, on_event=Progress(self.console))

    def recovery_steps(self) -> list[str]:
        env = " ".join(f"{k}={v}" for k, v in stack_env(self.cfg, create=False).items())
        prefix = f"PULUMI_BACKEND_URL={self.cfg.state_url} {env}".strip()
        name = stack_name(self.cfg)
        export = self.cfg.workdir / "stack-export.json"
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
                            hint=f"it is in {self.cfg.workdir / PASSPHRASE_FILE} unless "
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
        result, progress = self._run("up", lambda p: stack.up(on_event=p))
        changes = {k: v for k, v in (result.summary.resource_changes or {}).items() if k != "same"}
        return outputs_from({k: v.value for k, v in result.outputs.items()}), changes

    def outputs(self) -> "ClusterOutputs | None":
        stack = self._stack(create=False)
        values = {k: v.value for k, v in stack.outputs().items()}
        return outputs_from(values) if values else None

    def destroy(self, *, purge: bool) -> list[str]:
        """Destroy the stack. With purge, an update first drops retainOnDelete from the kit's
        buckets (Pulumi reads resource options from state), so destroy deletes them too; if
        the state is empty, what an earlier plain `kit down` kept is deleted directly."""
        from kit.adopt import holds_resources

        stack = self._stack(purge=purge)
        self._recover(stack)
        state = (stack.export_stack().deployment or {}) if purge and self.purger else {}
        if purge and self.purger and not holds_resources(state):
            # A plain `kit down` ran before: the purge `up` would rebuild the whole stack only
            # to destroy it. Delete what that down kept directly (kit/adopt.py).
            done = self.purger(self.cfg) or [f"nothing kept by an earlier `kit down` of {self.cfg.name}"]
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


def _real_adopter(cfg: "KitConfig", deployment: dict[str, Any]) -> dict[str, str]:
    from kit.adopt import adoptions

    return adoptions(cfg, deployment)


def _real_purger(cfg: "KitConfig") -> list[str]:
    from kit.adopt import purge

    return purge(cfg)


def outputs_from(values: dict[str, Any]) -> "ClusterOutputs":
    """Stack outputs -> ClusterOutputs (unknown keys ignored, so older stacks still read)."""
    from stacks.contract import ClusterOutputs

    names = {f.name for f in fields(ClusterOutputs)}
    if not values.get("cloud") or not values.get("cluster_name"):
        raise KitError("the stack exported no cluster outputs (cloud, cluster_name)",
                       hint="rerun `kit up`; if it persists, rerun with --debug")
    return ClusterOutputs(**{k: v for k, v in values.items() if k in names})


# --- after destroy: what is still tagged with the stack (AWS) ------------------------------

STACK_TAG = "lima-kit:stack"  # stacks/aws/common.py tags every resource with it (a test checks)

# ARN service[:resource type] -> how to remove it by hand ({arn}, {id} filled in).
REMOVE_HINTS = {
    "ec2:security-group": "aws ec2 delete-security-group --group-id {id}",
    "ec2:volume": "aws ec2 delete-volume --volume-id {id}",
    "ec2:network-interface": "aws ec2 delete-network-interface --network-interface-id {id}",
    "ec2:instance": "aws ec2 terminate-instances --instance-ids {id}",
    "elasticloadbalancing": "aws elbv2 delete-load-balancer --load-balancer-arn {arn}",
    "s3": "aws s3 rb s3://{id} --force   (deletes every object in it)",
    "logs": "aws logs delete-log-group --log-group-name {id}",
    "kms": "aws kms schedule-key-deletion --key-id {id} --pending-window-in-days 7",
}


def _remove_hint(arn: str) -> str:
    parts = arn.split(":", 5)
    service, resource = parts[2], parts[5] if len(parts) > 5 else ""
    kind, _, ident = resource.partition("/") if "/" in resource else ("", "", resource)
    if service == "logs":
        ident = resource.split(":", 1)[-1]
    hint = REMOVE_HINTS.get(f"{service}:{kind}") or REMOVE_HINTS.get(service)
    if hint is None:
        return f"remove it in the {service} console, or with the aws CLI for {service}"
    return hint.format(arn=arn, id=ident.rsplit("/", 1)[-1] if service != "logs" else ident)


def tagged_leftovers(client: Any, name: str, cluster_name: str) -> list[str]:
    """ARNs still tagged with the stack, or owned by its cluster (load balancers and their
    security groups made by Kubernetes controllers carry kubernetes.io/cluster/<name>)."""
    found: list[str] = []
    filters = [[{"Key": STACK_TAG, "Values": [name]}],
               [{"Key": f"kubernetes.io/cluster/{cluster_name}", "Values": ["owned"]}],
               [{"Key": "elbv2.k8s.aws/cluster", "Values": [cluster_name]}]]
    pages = client.get_paginator("get_resources")
    for tag_filters in filters:
        for page in pages.paginate(TagFilters=tag_filters):
            for item in page.get("ResourceTagMappingList", []):
                if item["ResourceARN"] not in found:
                    found.append(item["ResourceARN"])
    return found


def leak_report(client: Any, name: str, cluster_name: str, kept: list[str]) -> list[str]:
    """Lines for the user: kept buckets (by design) and anything else left, with its fix."""
    lines = []
    arns = tagged_leftovers(client, name, cluster_name)
    kept_arns = [a for a in arns if any(a == f"arn:aws:s3:::{b}" or a.endswith(f":::{b}") for b in kept)]
    for arn in kept_arns:
        lines.append(f"kept (your runs and mirrored weights; `kit down --purge` deletes it): {arn}")
    others = [a for a in arns if a not in kept_arns]
    for arn in others:
        lines.append(f"[yellow]still exists[/]: {arn}\n      remove: {_remove_hint(arn)}")
    if others:
        lines.append(f"the tagging index lags deletions by a few minutes; list again with: aws "
                     f"resourcegroupstaggingapi get-resources --tag-filters Key={STACK_TAG},Values={name}")
    elif not kept_arns:
        lines.append(f"nothing tagged {STACK_TAG}={name} is left")
    return lines
