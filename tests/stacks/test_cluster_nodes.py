"""Cluster and node invariants: private API endpoint (operator CIDRs opt-in), secrets under
the stack's key, audit logs, access entries, network-policy CNI; IMDSv2 hop limit 1, encrypted
disks, the GPU pool's taint/label/scale-to-zero for every GPU type, spot."""

from __future__ import annotations

import json

import pytest

from kit.config import GPU_TYPES
from kit.errors import KitError
from stacks.aws.mocks import ACCOUNT
from stacks.contract import GPU_LABEL, GPU_TAINT, gpu_tolerations
from tests.stacks.conftest import inputs, make_cfg, plan_of

CLUSTER = "aws:eks/cluster:Cluster"
NODES = "aws:eks/nodeGroup:NodeGroup"
LT = "aws:ec2/launchTemplate:LaunchTemplate"


def test_api_endpoint_is_private_only_by_default(default_plan):
    vpc = inputs(default_plan, CLUSTER)["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc


def test_operator_cidrs_open_the_endpoint_to_those_cidrs_only():
    plan = plan_of(make_cfg(network={"operator_cidrs": ["203.0.113.0/24", "198.51.100.7/32"]}))
    vpc = inputs(plan, CLUSTER)["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24", "198.51.100.7/32"]


def test_secrets_encryption_logs_and_access_mode(default_plan):
    c = inputs(default_plan, CLUSTER)
    key_arn = default_plan.one("aws:kms/key:Key")
    assert c["encryptionConfig"]["resources"] == ["secrets"]
    assert c["encryptionConfig"]["provider"]["keyArn"].startswith("arn:aws:kms:us-east-1:")
    assert key_arn["inputs"]["enableKeyRotation"] is True
    assert set(c["enabledClusterLogTypes"]) >= {"api", "audit", "authenticator"}
    assert c["accessConfig"] == {"authenticationMode": "API",
                                 "bootstrapClusterCreatorAdminPermissions": False}
    logs = inputs(default_plan, "aws:cloudwatch/logGroup:LogGroup", "cluster-logs")
    assert logs["name"] == "/aws/eks/acme-notes/cluster" and logs["kmsKeyId"].startswith("arn:aws:kms:")


def test_operator_role_gets_the_only_admin_access_entry(default_plan):
    entry = inputs(default_plan, "aws:eks/accessEntry:AccessEntry")
    assert entry["principalArn"] == f"arn:aws:iam::{ACCOUNT}:role/kit-operator"  # the role behind the caller's session
    assoc = inputs(default_plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert assoc["principalArn"] == f"arn:aws:iam::{ACCOUNT}:role/kit-operator"
    assert assoc["policyArn"].endswith("/AmazonEKSClusterAdminPolicy")
    assert assoc["accessScope"] == {"type": "cluster"}


def test_addons_and_network_policy_enforcement(default_plan):
    addons = {r["inputs"]["addonName"]: r["inputs"] for r in default_plan.of_type("aws:eks/addon:Addon")}
    assert set(addons) == {"vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent",
                           "aws-ebs-csi-driver", "snapshot-controller"}
    assert json.loads(addons["vpc-cni"]["configurationValues"]) == {"enableNetworkPolicy": "true"}


@pytest.mark.parametrize("name", ["system-lt", "gpu-lt"])
def test_launch_templates_imdsv2_hop_limit_one_and_encrypted_disks(default_plan, name):
    lt = inputs(default_plan, LT, name)
    assert lt["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required",
                                     "httpPutResponseHopLimit": 1, "instanceMetadataTags": "disabled"}
    (disk,) = lt["blockDeviceMappings"]
    assert disk["ebs"]["encrypted"] == "true"
    assert disk["ebs"]["kmsKeyId"] == inputs(default_plan, CLUSTER)["encryptionConfig"]["provider"]["keyArn"]
    tagged = {spec["resourceType"]: spec["tags"]["lima-kit:stack"] for spec in lt["tagSpecifications"]}
    assert tagged == {"instance": "acme-notes", "volume": "acme-notes", "network-interface": "acme-notes"}


def test_node_groups_use_their_launch_templates(default_plan):
    for group, other in (("system", "gpu"), ("gpu", "system")):
        ng = inputs(default_plan, NODES, group)
        assert ng["launchTemplate"]["id"].startswith("lt-")
        assert ng["launchTemplate"]["id"] != inputs(default_plan, NODES, other)["launchTemplate"]["id"]
    assert "diskSize" not in inputs(default_plan, NODES, "gpu")


def test_gpu_pool_taint_matches_the_tolerations_the_charts_use(default_plan):
    gpu = inputs(default_plan, NODES, "gpu")
    assert gpu["taints"] == [{"key": GPU_TAINT["key"], "value": GPU_TAINT["value"], "effect": "NO_SCHEDULE"}]
    assert gpu["labels"] == GPU_LABEL
    (tol,) = gpu_tolerations()
    taint = gpu["taints"][0]
    assert (tol["key"], tol["value"], tol["operator"]) == (taint["key"], taint["value"], "Equal")
    assert {"NoSchedule": "NO_SCHEDULE"}[tol["effect"]] == taint["effect"]
    plugin = inputs(default_plan, "kubernetes:apps/v1:DaemonSet", "daemonset:kube-system/nvidia-device-plugin")
    assert plugin["spec"]["template"]["spec"]["tolerations"] == gpu_tolerations()
    assert plugin["spec"]["template"]["spec"]["nodeSelector"] == GPU_LABEL


def test_gpu_pool_scales_to_zero_on_demand_by_default(default_plan):
    gpu = inputs(default_plan, NODES, "gpu")
    assert gpu["scalingConfig"] == {"minSize": 0, "desiredSize": 0, "maxSize": 2}
    assert gpu["capacityType"] == "ON_DEMAND"
    assert gpu["amiType"] == "AL2023_x86_64_NVIDIA"
    system = inputs(default_plan, NODES, "system")
    assert system["capacityType"] == "ON_DEMAND" and system["labels"] == {"lima-kit.io/pool": "system"}
    assert "taints" not in system


def test_spot_gpu_pool():
    gpu = inputs(plan_of(make_cfg(gpu={"spot": True})), NODES, "gpu")
    assert gpu["capacityType"] == "SPOT"
    assert len(gpu["instanceTypes"]) >= 1


# What AWS sells (EC2 instance types pages), written out here rather than read from the code:
# gpu type -> GPUs per node -> the instance types the GPU pool must offer, smallest first.
EXPECTED_INSTANCES = {
    ("l4", 1): ["g6.xlarge", "g6.2xlarge", "g6.4xlarge", "g6.8xlarge", "g6.16xlarge"],
    ("l4", 8): ["g6.48xlarge"],
    ("a10g", 4): ["g5.12xlarge", "g5.24xlarge"],
    ("a10g", 8): ["g5.48xlarge"],
    ("l40s", 1): ["g6e.xlarge", "g6e.2xlarge", "g6e.4xlarge", "g6e.8xlarge", "g6e.16xlarge"],
    ("l40s", 8): ["g6e.48xlarge"],
    ("a100", 8): ["p4d.24xlarge", "p4de.24xlarge"],
    ("h100", 1): ["p5.4xlarge"],
    ("h100", 8): ["p5.48xlarge"],
    ("h200", 8): ["p5e.48xlarge", "p5en.48xlarge"],
}


@pytest.mark.parametrize("gpu_type,count", sorted(EXPECTED_INSTANCES))
def test_each_gpu_type_maps_to_its_instances(gpu_type, count):
    plan = plan_of(make_cfg(gpu={"type": gpu_type, "count": count, "max_nodes": 3}))
    gpu = inputs(plan, NODES, "gpu")
    assert gpu["instanceTypes"] == EXPECTED_INSTANCES[(gpu_type, count)]
    assert gpu["nodeGroupName"] == f"acme-notes-gpu-{gpu_type}"
    assert gpu["scalingConfig"]["maxSize"] == 3 and gpu["scalingConfig"]["minSize"] == 0
    assert gpu["taints"][0]["key"] == "nvidia.com/gpu"


def test_every_gpu_type_kit_yaml_accepts_is_in_the_aws_catalog():
    from stacks.clouds import cloud_support

    assert {o.gpu_type for o in cloud_support("aws").gpu_catalog} == set(GPU_TYPES)
    assert {t for t, _ in EXPECTED_INSTANCES} == set(GPU_TYPES)


def test_unavailable_gpu_count_is_a_one_line_error():
    from kit.infra.plan import offline_plan

    with pytest.raises(KitError, match=r"gpu.count: a100 nodes on aws come with \[8\] GPUs, not 2"):
        offline_plan(make_cfg(gpu={"type": "a100", "count": 2}))


def test_cluster_autoscaler_runs_with_its_own_scoped_identity(default_plan):
    deploy = inputs(default_plan, "kubernetes:apps/v1:Deployment", "deployment:kube-system/cluster-autoscaler")
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-notes/k8s/")
    assert any("k8s.io/cluster-autoscaler/acme-notes" in a for a in container["command"])
    assoc = [r["inputs"] for r in default_plan.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
             if r["inputs"]["serviceAccount"] == "cluster-autoscaler"]
    assert assoc and assoc[0]["namespace"] == "kube-system"


def test_cluster_and_nodes_wait_for_their_role_permissions(default_plan):
    def urns(prefix):
        return {r["urn"] for r in default_plan.resources
                if r["type"].startswith("aws:iam/rolePolicy") and r["name"].startswith(prefix)}

    cluster = default_plan.one(CLUSTER)
    assert urns("cluster-") and urns("cluster-") <= set(cluster["depends_on"])
    for group in ("system", "gpu"):
        ng = default_plan.one(NODES, group)
        assert len(urns("node-")) == 3 and urns("node-") <= set(ng["depends_on"])
