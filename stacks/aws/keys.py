"""The stack's customer-managed KMS key: Kubernetes secrets, node disks, buckets, logs, ECR.

One key, rotated yearly. It outlives `kit down` (retainOnDelete) unless purging, because the
buckets it encrypts are retained too: deleting the key would make retained data unreadable.
A key and alias kept that way are adopted by the next `kit up` (stack config `adopt`), so the
alias name does not collide and the kept buckets stay under the stack's own key.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from stacks.aws.common import Ctx, policy, statement
from stacks.aws.names import KEY, KEY_ALIAS, key_alias_name, log_group_name

# What the account's own administrators may do through IAM policies. No "kms:*".
_ADMIN = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
          "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
          "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
          "kms:RotateKeyOnDemand"]
USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]


# The service-linked role EC2 Auto Scaling (hence EKS managed node groups) launches instances
# as; it creates their encrypted root volumes with the stack's key.
AUTOSCALING_ROLE = "role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"


def key(ctx: Ctx) -> aws.kms.Key:
    root = ctx.arn("iam", "root", region=False)
    autoscaling = ctx.arn("iam", AUTOSCALING_ROLE, region=False)
    # The Auto Scaling role is named in a condition, never as a Principal: KMS refuses a policy
    # whose Principal is a role that does not exist ("MalformedPolicyDocumentException: Policy
    # contains a statement with one or more invalid principals"), and an account that never
    # used Auto Scaling has no AWSServiceRoleForAutoScaling until the first group creates it
    # (github.com/terraform-aws-modules/terraform-aws-eks/issues/3013, particuleio/teks#92,
    # read 2026-12-07). Conditions are not checked against IAM, so the statement holds before
    # the role exists and admits it once it does: the two statements of "Required AWS KMS key
    # policy for use with encrypted volumes" (docs.aws.amazon.com/autoscaling/ec2/userguide/
    # key-policy-requirements-EBS-encryption.html, read 2026-12-07), scoped to this account's
    # role by aws:PrincipalArn and to EC2 by kms:ViaService.
    as_autoscaling = {"StringEquals": {"kms:CallerAccount": ctx.account,
                                       "kms:ViaService": f"ec2.{ctx.region}.amazonaws.com"},
                      "ArnEquals": {"aws:PrincipalArn": autoscaling}}
    doc = policy(
        statement("Allow", _ADMIN + USE + ["kms:CreateGrant"], "*", Sid="AccountAdmins",
                  Principal={"AWS": root}),
        # EBS volumes of node groups are created by the Auto Scaling service-linked role.
        statement("Allow", USE, "*", Sid="AutoScalingVolumes", Principal={"AWS": "*"},
                  Condition=as_autoscaling),
        statement("Allow", ["kms:CreateGrant"], "*", Sid="AutoScalingGrants",
                  Principal={"AWS": "*"},
                  Condition={**as_autoscaling, "Bool": {"kms:GrantIsForAWSResource": "true"}}),
        statement("Allow", USE, "*", Sid="CloudWatchLogs",
                  Principal={"Service": f"logs.{ctx.region}.amazonaws.com"},
                  Condition={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                         ctx.arn("logs", "log-group:*")}}),
    )
    retain = not ctx.purge
    adopt = ctx.adopt
    k = aws.kms.Key(KEY, description=f"lima-kit {ctx.name}: secrets, disks, buckets, logs",
                    enable_key_rotation=True, deletion_window_in_days=30,
                    key_usage="ENCRYPT_DECRYPT", customer_master_key_spec="SYMMETRIC_DEFAULT",
                    policy=doc, opts=ctx.opts(retain_on_delete=retain, import_=adopt.get(KEY)))
    aws.kms.Alias(KEY_ALIAS, name=key_alias_name(ctx.name), target_key_id=k.key_id,
                  opts=ctx.opts(parent=k, retain_on_delete=retain, import_=adopt.get(KEY_ALIAS)))
    return k


def log_group(ctx: Ctx, logical: str, key_arn: pulumi.Input[str]) -> aws.cloudwatch.LogGroup:
    """A KMS-encrypted log group of the audit trail: kept by a plain `kit down` (and adopted by
    the next `kit up`), deleted only by --purge, retained for logs.retention_days."""
    return aws.cloudwatch.LogGroup(
        logical, name=log_group_name(ctx.name, logical), kms_key_id=key_arn,
        retention_in_days=ctx.log_retention_days,
        opts=ctx.opts(retain_on_delete=not ctx.purge, import_=ctx.adopt.get(logical)))
