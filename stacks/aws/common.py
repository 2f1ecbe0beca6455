"""What every AWS module shares: names, the tagged provider, IAM policy documents."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from kit.errors import KitError
from stacks.aws.names import STACK_TAG, short_name
from stacks.aws.options import AwsOptions


@dataclass
class Ctx:
    """One deployment's identity and the options every resource shares."""

    name: str
    region: str
    account: str
    partition: str
    aws: AwsOptions
    purge: bool
    provider: aws.Provider
    # Logical name (stacks.aws.names.ADOPTABLE) -> id of a kept resource to import, not create.
    adopt: dict[str, str] = field(default_factory=dict)
    log_retention_days: int = 2192
    key_arn: pulumi.Output[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(provider=self.provider, **kwargs)

    def invoke(self) -> pulumi.InvokeOptions:
        return pulumi.InvokeOptions(provider=self.provider)

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (f"arn:{self.partition}:{service}:{self.region if region else ''}:"
                f"{self.account if account else ''}:{resource}")

    @property
    def short(self) -> str:
        return short_name(self.name)


def make_ctx(name: str, region: str, options: AwsOptions, purge: bool,
             adopt: dict[str, str], log_retention_days: int) -> Ctx:
    """The explicit provider every AWS resource uses: region pinned, stack tag on everything.
    With aws.account_id set, credentials of any other account are refused before anything
    is created."""
    tags = {STACK_TAG: name, "lima-kit:managed-by": "pulumi"}
    provider = aws.Provider("aws", region=region, default_tags={"tags": tags})
    ident = aws.get_caller_identity(opts=pulumi.InvokeOptions(provider=provider))
    part = aws.get_partition(opts=pulumi.InvokeOptions(provider=provider))
    if options.account_id and ident.account_id != options.account_id:
        raise KitError(f"aws.account_id: {options.account_id}, but the credentials in use are "
                       f"for account {ident.account_id}",
                       hint="switch credentials (AWS_PROFILE), or correct aws.account_id")
    return Ctx(name=name, region=region, account=ident.account_id, partition=part.partition,
               aws=options, purge=purge, provider=provider, adopt=dict(adopt), tags=tags,
               log_retention_days=log_retention_days)


def statement(effect: str, actions: list[str], resources: Any, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect, "Action": actions, "Resource": resources}
    out.update(extra)
    return out


def policy(*statements: dict[str, Any]) -> pulumi.Output[str]:
    """An IAM policy document as JSON; statements may hold Outputs (ARNs)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role(service: str, actions: tuple[str, ...] = ("sts:AssumeRole",),
                condition: dict | None = None) -> str:
    stmt: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service},
                            "Action": list(actions)}
    if condition:
        stmt["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


def managed_policy(ctx: Ctx, name: str) -> str:
    return f"arn:{ctx.partition}:iam::aws:policy/{name}"


def role(ctx: Ctx, logical: str, trust: str, *, managed: tuple[str, ...] = (),
         inline: pulumi.Input[str] | None = None, depends_on: list | None = None) -> aws.iam.Role:
    """A role named <kit>-<logical> (a stable ARN the platform layer can know in advance).

    `role.policies` lists its attachments: whatever uses the role depends on them, so it is
    created after its permissions exist and deleted before they go (pulumi #9009)."""
    r = aws.iam.Role(f"{logical}-role", name=f"{ctx.name}-{logical}", assume_role_policy=trust,
                     max_session_duration=3600, force_detach_policies=True, opts=ctx.opts())
    attached: list[pulumi.Resource] = []
    for pol in managed:
        attached.append(aws.iam.RolePolicyAttachment(
            f"{logical}-{pol}", role=r.name, policy_arn=managed_policy(ctx, pol),
            opts=ctx.opts(parent=r)))
    if inline is not None:
        attached.append(aws.iam.RolePolicy(f"{logical}-inline", role=r.id, policy=inline,
                                           opts=ctx.opts(parent=r, depends_on=depends_on or [])))
    r.policies = attached  # type: ignore[attr-defined]
    return r
