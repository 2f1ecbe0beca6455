"""Pulumi mocks for AWS in the offline plan: ids the way AWS spells them, ARNs, and answers to
the stack's data-source calls (account, partition, zones, an existing VPC's routes). The
account is kit.yaml's aws.account_id when set, else a placeholder the plan says it is."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs

from stacks.plan_mocks import PlanMocks

if TYPE_CHECKING:
    from kit.config import KitConfig

ACCOUNT = "123456789012"  # placeholder account: the plan shows where the real one goes

# Short ids the way AWS spells them, so a reviewer recognises the references in the plan.
_ID_PREFIX = {"aws:ec2/vpc:Vpc": "vpc", "aws:ec2/subnet:Subnet": "subnet",
              "aws:ec2/routeTable:RouteTable": "rtb", "aws:ec2/securityGroup:SecurityGroup": "sg",
              "aws:ec2/internetGateway:InternetGateway": "igw", "aws:ec2/natGateway:NatGateway": "nat",
              "aws:ec2/eip:Eip": "eipalloc", "aws:ec2/launchTemplate:LaunchTemplate": "lt",
              "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce"}


def _camel_to_kebab(text: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in text).lstrip("-")


class AwsMocks(PlanMocks):
    """Echo inputs as state and add the computed outputs later resources read (ids, ARNs,
    names). `calls` overrides a data-source token's answer (an existing VPC's routes, say)."""

    def __init__(self, region: str = "us-east-1", account: str = ACCOUNT,
                 calls: dict[str, dict] | None = None) -> None:
        self.region = region
        self.account = account
        self.calls = calls or {}

    @classmethod
    def for_config(cls, cfg: "KitConfig") -> "AwsMocks":
        return cls(region=cfg.region or "us-east-1", account=cfg.aws.account_id or ACCOUNT)

    @property
    def placeholders(self) -> str:
        """What in the plan is made up (the report's header says so)."""
        account = "" if self.account != ACCOUNT else f"account {self.account} and "
        return f"{account}resource ids are placeholders"

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        state = dict(args.inputs)
        typ, name = args.typ, args.name
        if typ.startswith("pulumi:providers:"):
            return f"{name}-provider-id", state
        if typ == "aws:s3/bucket:Bucket":
            bucket = state.get("bucket") or args.resource_id or name
            state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}")
            return bucket, state
        prefix = _ID_PREFIX.get(typ)
        ident = args.resource_id or (f"{prefix}-{zlib.crc32(name.encode()):08x}" if prefix else f"{name}-id")
        mod, _, kind = typ.partition(":")[2].partition("/")
        kind = kind.split(":")[0]
        service = mod if typ.startswith("aws:") else ""
        if service:
            logical = state.get("name") or name
            state.setdefault("arn", self._arn(service, kind, str(logical)))
        if typ == "aws:iam/role:Role":
            state.setdefault("name", name)
            ident = state["name"]  # IAM's id for a role is its name
        elif typ == "aws:kms/key:Key":
            state.update(keyId=ident)
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state.update(latestVersion=1, defaultVersion=1)
        elif typ == "aws:eks/cluster:Cluster":
            state.update(endpoint=f"https://{ident}.gr7.{self.region}.eks.amazonaws.com",
                         certificateAuthority={"data": "bW9jay1jYQ=="},
                         vpcConfig={**state.get("vpcConfig", {}), "clusterSecurityGroupId": "sg-cluster"})
        return ident, state

    def _arn(self, service: str, kind: str, name: str) -> str:
        if service == "iam":
            return f"arn:aws:iam::{self.account}:{_camel_to_kebab(kind)}/{name}"
        if service == "cloudwatch":
            return f"arn:aws:logs:{self.region}:{self.account}:log-group:{name}"
        if service == "kms":
            return f"arn:aws:kms:{self.region}:{self.account}:key/{name}"
        return f"arn:aws:{service}:{self.region}:{self.account}:{_camel_to_kebab(kind)}/{name}"

    def call(self, args: MockCallArgs) -> dict:
        if args.token in self.calls:
            return dict(self.calls[args.token])
        a = args.args
        answers: dict[str, dict[str, Any]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": self.account, "arn": f"arn:aws:sts::{self.account}:assumed-role/kit-operator/plan",
                "userId": "AROAPLACEHOLDER:plan", "id": self.account},
            "aws:index/getPartition:getPartition": {
                "partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"},
            "aws:index/getAvailabilityZones:getAvailabilityZones": {
                "names": [f"{self.region}{z}" for z in "abc"],
                "zoneIds": [f"use1-az{i}" for i in (1, 2, 4)], "id": self.region},
            "aws:iam/getSessionContext:getSessionContext": {
                "arn": a.get("arn", ""), "issuerArn": f"arn:aws:iam::{self.account}:role/kit-operator",
                "issuerId": "AROAPLACEHOLDER",
                "issuerName": "kit-operator", "sessionName": "plan", "id": a.get("arn", "")},
            "aws:ec2/getPrefixList:getPrefixList": {
                "id": "pl-63a5400a", "prefixListId": "pl-63a5400a", "name": a.get("name", ""),
                "cidrBlocks": ["16.182.0.0/16", "52.216.0.0/15"]},
            "aws:ec2/getVpc:getVpc": {"id": a.get("id", "vpc-existing"), "cidrBlock": "10.0.0.0/16",
                                      "dhcpOptionsId": "dopt-0default"},
            "aws:ec2/getVpcDhcpOptions:getVpcDhcpOptions": {
                "id": a.get("dhcpOptionsId", "dopt-0default"),
                "dhcpOptionsId": a.get("dhcpOptionsId", "dopt-0default"),
                "domainNameServers": ["AmazonProvidedDNS"]},
            # An existing subnet's zone: a, b, c in the order kit.yaml lists them (by id).
            "aws:ec2/getSubnet:getSubnet": {
                "id": a.get("id", ""), "vpcId": "vpc-existing",
                "availabilityZone": f"{self.region}{'abc'[zlib.crc32(a.get('id', '').encode()) % 3]}"},
            "aws:ec2/getRouteTable:getRouteTable": {
                "routeTableId": f"rtb-{a.get('subnetId', 'x')[-8:]}", "routes": [],
                "id": f"rtb-{a.get('subnetId', 'x')[-8:]}"},
        }
        return answers.get(args.token, {})
