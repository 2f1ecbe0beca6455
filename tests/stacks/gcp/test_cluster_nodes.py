"""GKE and its node pools on the mock plan: private control plane, Workload Identity, the kit's
key on secrets and disks, Dataplane V2, shielded nodes; pools on the kit's node account with
the metadata server; the GPU pool for every GPU type of the catalog."""

from __future__ import annotations

import json

import pytest

from kit.errors import KitError
from stacks.gcp import SUPPORT
from stacks.gcp.catalog import CATALOG, accelerator
from stacks.gcp.mocks import GcpMocks
from tests.stacks.gcp.conftest import inputs, make_cfg, plan_of

CLUSTER = "gcp:container/cluster:Cluster"
POOL = "gcp:container/nodePool:NodePool"
KEY = "projects/acme-ml-prod/locations/us-central1/keyRings/lima-kit-acme-notes/cryptoKeys/kit"
NODES = "acme-notes-nodes@acme-ml-prod.iam.gserviceaccount.com"


def test_control_plane_is_private_and_hardened(default_plan):
    c = inputs(default_plan, CLUSTER)
    assert c["privateClusterConfig"] == {"enablePrivateNodes": True, "enablePrivateEndpoint": True,
                                         "masterIpv4CidrBlock": "172.16.0.32/28",
                                         "masterGlobalAccessConfig": {"enabled": False}}
    assert c["masterAuthorizedNetworksConfig"] == {"cidrBlocks": [], "gcpPublicCidrsAccessEnabled": False}
    assert c["workloadIdentityConfig"] == {"workloadPool": "acme-ml-prod.svc.id.goog"}
    assert c["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": KEY}
    assert c["datapathProvider"] == "ADVANCED_DATAPATH"
    assert c["enableShieldedNodes"] is True and c["enableLegacyAbac"] is False
    assert c["masterAuth"] == {"clientCertificateConfig": {"issueClientCertificate": False}}
    assert c["releaseChannel"] == {"channel": "REGULAR"}
    assert {"APISERVER", "SYSTEM_COMPONENTS"} <= set(c["loggingConfig"]["enableComponents"])
    assert c["removeDefaultNodePool"] is True
    assert c["nodeConfig"]["serviceAccount"] == NODES
    assert c["deletionProtection"] is False   # `kit down` must be able to delete it
    # The removed default pool's node_config must never read as a reason to replace the cluster.
    assert default_plan.one(CLUSTER)["ignore_changes"] == ["nodeConfig"]


def test_operator_cidrs_open_the_public_endpoint_to_exactly_those(egress_plan):
    c = inputs(egress_plan, CLUSTER)
    assert c["privateClusterConfig"]["enablePrivateEndpoint"] is False
    assert c["privateClusterConfig"]["enablePrivateNodes"] is True
    assert [b["cidrBlock"] for b in c["masterAuthorizedNetworksConfig"]["cidrBlocks"]] == ["203.0.113.0/24"]
    assert c["masterAuthorizedNetworksConfig"]["gcpPublicCidrsAccessEnabled"] is False


def test_kubeconfig_needs_no_gcloud_plugin_and_holds_no_token(default_plan):
    provider = default_plan.one("pulumi:providers:kubernetes")["inputs"]["kubeconfig"]
    config = json.loads(provider["value"] if isinstance(provider, dict) else provider)
    (user,) = config["users"]
    assert user["user"] == {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                     "command": "kit", "args": ["cluster-token", "gcp"],
                                     "interactiveMode": "Never", "provideClusterInfo": False}}
    # The DNS-based endpoint, not the private IP: the operator reaches it from outside the network.
    assert config["clusters"][0]["cluster"] == {"server": "https://gke-0mock.us-central1.gke.goog"}


def test_the_operators_path_is_the_iam_authorised_dns_endpoint(default_plan):
    """GKE's DNS-based control-plane endpoint admits traffic from any address and authorises
    it with IAM only (https://docs.cloud.google.com/kubernetes-engine/docs/concepts/network-isolation,
    read 2026-12-07): the run that creates the network reaches the cluster without an IP
    allow-list, while the IP endpoint stays private (no operator_cidrs)."""
    c = inputs(default_plan, CLUSTER)
    assert c["controlPlaneEndpointsConfig"]["dnsEndpointConfig"] == {"allowExternalTraffic": True}
    assert c["privateClusterConfig"]["enablePrivateEndpoint"] is True


@pytest.mark.parametrize("pool", ["system", "gpu"])
def test_every_pool_runs_hardened_as_the_kits_node_account(default_plan, pool):
    node = inputs(default_plan, POOL, pool)["nodeConfig"]
    assert node["serviceAccount"] == NODES and "compute@developer" not in node["serviceAccount"]
    assert node["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert node["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
    assert node["bootDiskKmsKey"] == KEY
    assert node["metadata"] == {"disable-legacy-endpoints": "true"}
    assert node["tags"] == ["acme-notes-node"]


def test_node_account_has_gkes_least_privilege_role_only(default_plan):
    grants = [r["inputs"] for r in default_plan.of_type("gcp:projects/iAMMember:IAMMember")]
    assert [(g["role"], g["member"]) for g in grants] == [
        ("roles/container.defaultNodeServiceAccount", f"serviceAccount:{NODES}")]


def test_gpu_pool_is_tainted_labelled_and_scales_from_zero(default_plan):
    gpu = inputs(default_plan, POOL, "gpu")
    assert gpu["autoscaling"]["totalMinNodeCount"] == 0 and gpu["autoscaling"]["totalMaxNodeCount"] == 2
    node = gpu["nodeConfig"]
    assert node["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    assert node["labels"] == {"lima-kit.io/pool": "gpu"}
    assert node["spot"] is False
    (acc,) = node["guestAccelerators"]
    assert acc == {"type": "nvidia-h100-80gb", "count": 8,
                   "gpuDriverInstallationConfig": {"gpuDriverVersion": "DEFAULT"}}
    system = inputs(default_plan, POOL, "system")
    assert "taints" not in system["nodeConfig"] and system["autoscaling"]["totalMinNodeCount"] == 1


def test_spot_pool():
    plan = plan_of(make_cfg(gpu={"spot": True}))
    assert inputs(plan, POOL, "gpu")["nodeConfig"]["spot"] is True


@pytest.mark.parametrize("offer", CATALOG, ids=lambda o: f"{o.gpu_type}x{o.gpus}")
def test_every_gpu_type_of_the_catalog(offer):
    plan = plan_of(make_cfg(gpu={"type": offer.gpu_type, "count": offer.gpus, "max_nodes": 1}))
    node = inputs(plan, POOL, "gpu")["nodeConfig"]
    assert node["machineType"] == offer.machine_types[0]
    assert node["guestAccelerators"][0]["type"] == accelerator(offer.machine_types[0])[0]
    assert node["guestAccelerators"][0]["count"] == offer.gpus


def test_hyperdisk_only_machines_boot_and_restore_models_on_hyperdisk():
    plan = plan_of(make_cfg(gpu={"type": "h200", "count": 8, "max_nodes": 1}))
    assert inputs(plan, POOL, "gpu")["nodeConfig"]["diskType"] == "hyperdisk-balanced"
    system = inputs(plan, POOL, "system")["nodeConfig"]
    assert (system["machineType"], system["diskType"]) == ("c3-standard-4", "hyperdisk-balanced")
    storage_class = inputs(plan, "kubernetes:storage.k8s.io/v1:StorageClass")
    assert storage_class["parameters"] == {"type": "hyperdisk-balanced", "disk-encryption-kms-key": KEY}
    default = plan_of(make_cfg())
    assert inputs(default, POOL, "gpu")["nodeConfig"]["diskType"] == "pd-balanced"
    assert inputs(default, POOL, "system")["nodeConfig"]["machineType"] == "e2-standard-4"


def test_a_reservation_feeds_the_gpu_pool_only():
    plan = plan_of(make_cfg(gcp={"reservation": "acme-h100"}))
    assert inputs(plan, POOL, "gpu")["nodeConfig"]["reservationAffinity"] == {
        "consumeReservationType": "SPECIFIC_RESERVATION", "key": "compute.googleapis.com/reservation-name",
        "values": ["acme-h100"]}
    assert "reservationAffinity" not in inputs(plan, POOL, "system")["nodeConfig"]


def test_gpu_pool_lives_only_in_zones_offering_its_machine_type():
    h200 = inputs(plan_of(make_cfg(gpu={"type": "h200", "count": 8, "max_nodes": 1})), POOL, "gpu")
    assert h200["nodeLocations"] == ["us-central1-b"]


@pytest.mark.parametrize("gpu_type", ["a10g", "l40s"])
def test_a_gpu_type_gcp_lacks_is_one_line_listing_what_it_has(gpu_type):
    with pytest.raises(KitError) as err:
        SUPPORT.gpu_offer(gpu_type, 1)
    assert err.value.one_line() == (f"gpu.type: {gpu_type} is not offered on gcp "
                                    "(hint: gcp has a100, h100, h200, l4)")


def test_a_region_without_the_machine_type_is_one_line_listing_what_it_has():
    only_l4 = {"gcp:compute/getMachineTypes:getMachineTypes": {
        "machineTypes": [{"name": "g2-standard-4"}], "id": "z"}}
    with pytest.raises(KitError) as err:
        plan_of(make_cfg(region="europe-west1"), mocks=GcpMocks("acme-ml-prod", "europe-west1", only_l4))
    assert err.value.one_line() == ("gpu.type: a3-highgpu-8g is not offered in any zone of "
                                    "europe-west1 (hint: europe-west1 has l4 x1; change "
                                    "gpu.type/gpu.count or region)")
