"""Pulumi mocks for GCP in the offline plan: ids and emails the way GCP spells them, and
answers to the stack's data-source calls (project number, zones, which zones offer which GPU
machine types, an existing subnetwork, Cloud Storage's service agent). The project is
kit.yaml's gcp.project; its number and the zones' offers are placeholders the plan says are."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs

from stacks.gcp.catalog import all_machine_types, family
from stacks.plan_mocks import PlanMocks

if TYPE_CHECKING:
    from kit.config import KitConfig

PROJECT_NUMBER = "123456789012"   # placeholder: the plan shows where the real one goes
OTHER_PROJECT_NUMBER = "210987654321"   # what the mock answers for any other project (gcp.data_project)
# Zone suffix -> machine type families offered there (placeholders shaped like us-central1's).
ZONE_OFFERS = {"a": ("g2", "a2-highgpu", "a2-ultragpu", "a3-highgpu", "a3-megagpu"),
               "b": ("g2", "a2-highgpu", "a3-highgpu", "a3-megagpu", "a3-ultragpu"),
               "c": ("g2", "a2-highgpu", "a2-ultragpu", "a3-highgpu"),
               "f": ("a2-highgpu",)}


class GcpMocks(PlanMocks):
    """Echo inputs as state and add the computed outputs later resources read. `calls`
    overrides a data-source token's answer (an existing subnetwork, a region's offers)."""

    def __init__(self, project: str = "acme-ml", region: str = "us-central1",
                 calls: dict[str, dict] | None = None) -> None:
        self.project = project
        self.region = region
        self.calls = calls or {}

    @classmethod
    def for_config(cls, cfg: "KitConfig") -> "GcpMocks":
        return cls(project=cfg.gcp.project or "acme-ml", region=cfg.region or "us-central1")

    @property
    def placeholders(self) -> str:
        return (f"project number {PROJECT_NUMBER}, which zones offer which GPU machine types, "
                "and resource ids are placeholders")

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        state = dict(args.inputs)
        typ, name = args.typ, args.name
        if typ.startswith("pulumi:providers:"):
            return f"{name}-provider-id", state
        p, r = self.project, self.region
        given = state.get("name") or name
        if typ == "gcp:projects/serviceIdentity:ServiceIdentity":
            agent = state["service"].split(".")[0]
            email = f"service-{PROJECT_NUMBER}@gcp-sa-{agent}.iam.gserviceaccount.com"
            state.update(email=email, member=f"serviceAccount:{email}")
            return f"projects/{p}/services/{state['service']}", state
        if typ == "gcp:serviceaccount/account:Account":
            email = f"{state['accountId']}@{p}.iam.gserviceaccount.com"
            state.update(email=email, name=f"projects/{p}/serviceAccounts/{email}",
                         member=f"serviceAccount:{email}")
            return state["name"], state
        ids = {
            "gcp:kms/keyRing:KeyRing": f"projects/{p}/locations/{r}/keyRings/{given}",
            "gcp:compute/network:Network": f"projects/{p}/global/networks/{given}",
            "gcp:compute/subnetwork:Subnetwork": f"projects/{p}/regions/{r}/subnetworks/{given}",
            "gcp:container/cluster:Cluster": f"projects/{p}/locations/{r}/clusters/{given}",
            "gcp:storage/bucket:Bucket": str(given),
            "gcp:artifactregistry/repository:Repository":
                f"projects/{p}/locations/{r}/repositories/{state.get('repositoryId', given)}",
            "gcp:logging/projectBucketConfig:ProjectBucketConfig":
                f"projects/{p}/locations/{r}/buckets/{state.get('bucketId', given)}",
        }
        if typ == "gcp:kms/cryptoKey:CryptoKey":
            ident = f"{state['keyRing']}/cryptoKeys/{given}"
        else:
            ident = args.resource_id or ids.get(typ) or f"{name}-id"
        if typ in ids or typ == "gcp:kms/cryptoKey:CryptoKey":
            state.setdefault("name", given)
            state["selfLink"] = f"https://www.googleapis.com/compute/v1/{ident}"
        if typ == "gcp:artifactregistry/repository:Repository":
            state["name"] = state.get("repositoryId", given)
        elif typ == "gcp:container/cluster:Cluster":
            endpoints = state.get("controlPlaneEndpointsConfig") or {}
            dns = {**(endpoints.get("dnsEndpointConfig") or {}), "endpoint": f"gke-0mock.{r}.gke.goog"}
            state.update(endpoint="172.16.0.34", masterAuth={
                **(state.get("masterAuth") or {}), "clusterCaCertificate": "bW9jay1jYQ=="},
                controlPlaneEndpointsConfig={**endpoints, "dnsEndpointConfig": dns})
        return ident, state

    def _project(self, project: str) -> dict[str, Any]:
        number = PROJECT_NUMBER if project == self.project else OTHER_PROJECT_NUMBER
        return {"projectId": project, "number": number, "name": project, "id": f"projects/{project}"}

    def call(self, args: MockCallArgs) -> dict:
        if args.token in self.calls:
            return dict(self.calls[args.token])
        a = args.args
        if args.token == "gcp:compute/getMachineTypes:getMachineTypes":
            zone = str(a.get("zone", ""))
            families = ZONE_OFFERS.get(zone.rsplit("-", 1)[-1], ())
            return {"machineTypes": [{"name": m, "guestCpus": 0, "memoryMb": 0,
                                      "isSharedCpus": False, "maximumPersistentDisks": 128,
                                      "maximumPersistentDisksSizeGb": 263168, "selfLink": m,
                                      "description": m, "bundledLocalSsds": [],
                                      "deprecateds": [], "accelerators": []}
                                     for m in all_machine_types() if family(m) in families],
                    "filter": a.get("filter", ""), "zone": zone, "project": self.project,
                    "id": zone}
        answers: dict[str, dict[str, Any]] = {
            "gcp:organizations/getProject:getProject": self._project(str(a.get("projectId") or
                                                                         self.project)),
            "gcp:logging/getProjectCmekSettings:getProjectCmekSettings": {
                "serviceAccountId": f"service-{PROJECT_NUMBER}@gcp-sa-logging.iam.gserviceaccount.com",
                "name": f"projects/{self.project}/cmekSettings", "project": self.project,
                "id": f"projects/{self.project}/cmekSettings"},
            "gcp:compute/getZones:getZones": {
                "names": [f"{self.region}-{z}" for z in ZONE_OFFERS], "id": self.region,
                "project": self.project, "region": self.region},
            "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": {
                "emailAddress": f"service-{PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com",
                "member": f"serviceAccount:service-{PROJECT_NUMBER}@gs-project-accounts.iam."
                          "gserviceaccount.com", "id": self.project, "project": self.project},
            "gcp:compute/getSubnetwork:getSubnetwork": {
                "name": a.get("name", ""), "region": self.region, "ipCidrRange": "10.10.0.0/20",
                "network": f"https://www.googleapis.com/compute/v1/projects/{self.project}/global/"
                           "networks/shared-vpc",
                "privateIpGoogleAccess": True,
                "selfLink": f"https://www.googleapis.com/compute/v1/projects/{self.project}/regions/"
                            f"{self.region}/subnetworks/{a.get('name', '')}",
                "secondaryIpRanges": [{"rangeName": "pods", "ipCidrRange": "10.20.0.0/14"},
                                      {"rangeName": "services", "ipCidrRange": "10.24.0.0/20"}],
                "id": a.get("name", "")},
        }
        return answers.get(args.token, {})
