"""DNS as an exit: with egress off, pods could still leak data by resolving names under a
domain someone else's name server answers (DNS exfiltration). Route 53 Resolver DNS Firewall
on the VPC answers only the names the deployment needs (AWS's own service names and the VPC's
internal names) and refuses every other name; it fails closed. With network.egress: true the
operator opted into the internet, and the firewall is not added."""

from __future__ import annotations

import pulumi_aws as aws

from stacks.aws.common import Ctx
from stacks.aws.network import Network

# What the nodes, pods and endpoints resolve: AWS service and endpoint names (ECR, S3, STS, EKS,
# logs, SSM...) and the VPC's own names. Cluster names (*.cluster.local) never leave CoreDNS.
ALLOWED = ("amazonaws.com.", "*.amazonaws.com.", "*.compute.internal.", "ec2.internal.",
           "*.ec2.internal.")


def dns_firewall(ctx: Ctx, net: Network) -> aws.route53.ResolverFirewallRuleGroupAssociation:
    allowed = aws.route53.ResolverFirewallDomainList(
        "dns-allowed", name=f"{ctx.name}-allowed", domains=list(ALLOWED), opts=ctx.opts())
    everything = aws.route53.ResolverFirewallDomainList(
        "dns-everything", name=f"{ctx.name}-everything", domains=["*."], opts=ctx.opts())
    group = aws.route53.ResolverFirewallRuleGroup("dns-firewall", name=f"{ctx.name}-dns",
                                                  opts=ctx.opts())
    aws.route53.ResolverFirewallRule(
        "dns-allow", name="allow-aws-and-vpc-names", action="ALLOW", priority=100,
        firewall_domain_list_id=allowed.id, firewall_rule_group_id=group.id, opts=ctx.opts(parent=group))
    aws.route53.ResolverFirewallRule(
        "dns-block", name="block-every-other-name", action="BLOCK", block_response="NXDOMAIN",
        priority=200, firewall_domain_list_id=everything.id, firewall_rule_group_id=group.id,
        opts=ctx.opts(parent=group))
    aws.route53.ResolverFirewallConfig("dns-fail-closed", resource_id=net.vpc_id,
                                       firewall_fail_open="DISABLED", opts=ctx.opts())
    # Mutation protection off: with it on, Route 53 Resolver refuses to change or remove the
    # association (AWS Tools for PowerShell, Edit-R53RFirewallRuleGroupAssociation,
    # MutationProtection: "disallows modification or removal of the association";
    # powershellgallery.com/packages/AWS.Tools.Route53Resolver, read 2026-12-07), so `kit down`
    # could not delete the association nor, after it, the VPC. Who may change the association
    # is a matter of IAM (route53resolver:*FirewallRuleGroupAssociation) instead.
    return aws.route53.ResolverFirewallRuleGroupAssociation(
        "dns-firewall", name=f"{ctx.name}-dns", firewall_rule_group_id=group.id, vpc_id=net.vpc_id,
        priority=101, mutation_protection="DISABLED", opts=ctx.opts(parent=group))
