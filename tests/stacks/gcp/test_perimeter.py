"""VPC Service Controls on the mock plan and in `kit doctor`: a perimeter around the project (and
the data's project) restricting the services the kit keeps data in, an existing perimeter
checked, and no perimeter only as an explicitly accepted, displayed risk.

Grounding (read 2026-12-07):
- "When a service is protected by a perimeter, requests cannot be made by the service inside
  the perimeter to any resource outside the perimeter":
  https://docs.cloud.google.com/compute/docs/instances/protecting-resources-vpc-service-controls
- perimeter resources are projects/{project_number}:
  https://docs.cloud.google.com/sdk/gcloud/reference/access-context-manager/lookup-configured-perimeter
- remote repositories inside a perimeter reach upstream sources only when allowed:
  https://cloud.google.com/sdk/gcloud/reference/artifacts/vpcsc-config
"""

from __future__ import annotations

import json

import pytest
import yaml

from kit.errors import KitError
from stacks.gcp import contained
from stacks.gcp.mocks import OTHER_PROJECT_NUMBER, PROJECT_NUMBER
from tests.conftest import run_kit
from tests.stacks.gcp.conftest import BASE, inputs, make_cfg, plan_of

PERIMETER = "gcp:accesscontextmanager/servicePerimeter:ServicePerimeter"
LEVEL = "gcp:accesscontextmanager/accessLevel:AccessLevel"
NEEDED = {"storage.googleapis.com", "artifactregistry.googleapis.com"}
NAME = "accessPolicies/987654321/servicePerimeters/hipaa"


def _without_perimeter(**gcp):
    raw = json.loads(json.dumps(BASE))
    raw["gcp"] = {"project": "acme-ml-prod", **gcp}
    return raw


def test_the_kit_creates_a_perimeter_around_its_project(default_plan):
    p = inputs(default_plan, PERIMETER)
    assert p["parent"] == "accessPolicies/987654321"
    assert p["name"] == "accessPolicies/987654321/servicePerimeters/lima_kit_acme_notes"
    assert p["perimeterType"] == "PERIMETER_TYPE_REGULAR"
    assert p["status"]["resources"] == [f"projects/{PROJECT_NUMBER}"]
    assert NEEDED <= set(p["status"]["restrictedServices"])
    # no remote repository may fetch from outside: Artifact Registry's VPC SC policy is DENY,
    # explicitly (an earlier kit's ALLOW, logical name mirror-upstreams, is turned back)
    vpcsc = inputs(default_plan, "gcp:artifactregistry/vpcscConfig:VpcscConfig")
    assert vpcsc == {"location": "us-central1", "vpcscPolicy": "DENY"}


def test_the_data_project_goes_inside_and_operators_get_an_access_level():
    plan = plan_of(make_cfg(gcp={"data_project": "acme-data-lake"},
                            network={"operator_cidrs": ["203.0.113.0/24"]}))
    p = inputs(plan, PERIMETER)
    assert p["status"]["resources"] == [f"projects/{PROJECT_NUMBER}", f"projects/{OTHER_PROJECT_NUMBER}"]
    level = inputs(plan, LEVEL)
    assert level["basic"] == {"conditions": [{"ipSubnetworks": ["203.0.113.0/24"]}]}
    assert p["status"]["accessLevels"] == [level["name"]]
    assert "notes" not in plan.outputs


def test_without_operator_cidrs_the_plan_says_where_the_operator_must_call_from(default_plan):
    assert default_plan.of_type(LEVEL) == [] and inputs(default_plan, PERIMETER)["status"]["accessLevels"] == []
    (note,) = default_plan.outputs["notes"]
    assert note.startswith("requires: the operator's calls") and "network.operator_cidrs (none set" in note


def test_without_a_perimeter_the_plan_is_refused_in_one_line(tmp_path):
    (tmp_path / "kit.yaml").write_text(yaml.safe_dump(_without_perimeter()))
    proc = run_kit("plan", "--offline", "-f", str(tmp_path / "kit.yaml"), cwd=tmp_path)
    assert proc.returncode == 1
    assert "gcp.access_policy: target gcp needs a VPC Service Controls perimeter" in proc.stderr
    assert "gcp.accept_no_perimeter" in proc.stderr and "Traceback" not in proc.stderr


def test_an_accepted_risk_is_shown_by_the_plan(tmp_path):
    why = "synthetic data only, sandbox project"
    (tmp_path / "kit.yaml").write_text(yaml.safe_dump(_without_perimeter(accept_no_perimeter=why)))
    proc = run_kit("plan", "--offline", "-f", str(tmp_path / "kit.yaml"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"note: risk accepted (gcp.accept_no_perimeter): no VPC Service Controls perimeter: {why}" \
        in " ".join(proc.stdout.split())
    plan = plan_of(make_cfg(gcp={"access_policy": None, "accept_no_perimeter": why}))
    assert not plan.of_type(PERIMETER)
    assert plan.outputs["notes"] == [
        f"risk accepted (gcp.accept_no_perimeter): no VPC Service Controls perimeter: {why}"]


def test_an_existing_perimeter_is_required_not_created():
    plan = plan_of(make_cfg(gcp={"access_policy": None, "service_perimeter": NAME}))
    assert not plan.of_type(PERIMETER)
    assert plan.outputs["notes"][0].startswith(f"requires: projects/{PROJECT_NUMBER} (and the data "
                                               f"bucket's project) inside {NAME}")


def test_two_perimeter_choices_are_refused():
    with pytest.raises(KitError, match="set one of gcp.access_policy, gcp.service_perimeter"):
        make_cfg(gcp={"service_perimeter": NAME})


def _perimeter(resources, services=("storage.googleapis.com", "artifactregistry.googleapis.com",
                                    "cloudkms.googleapis.com", "logging.googleapis.com")):
    """The shape accesscontextmanager.v1 accessPolicies.servicePerimeters.get answers."""
    return {"name": NAME, "title": "hipaa", "perimeterType": "PERIMETER_TYPE_REGULAR",
            "status": {"resources": list(resources), "restrictedServices": list(services)}}


def test_doctor_checks_the_existing_perimeter_holds_both_projects_and_restricts_storage():
    both = [PROJECT_NUMBER, OTHER_PROJECT_NUMBER]
    ok = contained.perimeter_check(NAME, _perimeter([f"projects/{n}" for n in both]), both)
    assert ok.ok
    outside = contained.perimeter_check(NAME, _perimeter([f"projects/{PROJECT_NUMBER}"]), both)
    assert not outside.ok and f"projects/{OTHER_PROJECT_NUMBER} not inside hipaa" in outside.detail
    assert f"--add-resources projects/{OTHER_PROJECT_NUMBER}" in outside.fix
    loose = contained.perimeter_check(NAME, _perimeter([f"projects/{PROJECT_NUMBER}"],
                                                       ["bigquery.googleapis.com"]), [PROJECT_NUMBER])
    assert not loose.ok and "does not restrict storage.googleapis.com" in loose.detail
    dry_run_only = {"name": NAME, "spec": {"resources": [f"projects/{PROJECT_NUMBER}"]}}
    assert not contained.perimeter_check(NAME, dry_run_only, [PROJECT_NUMBER]).ok
    assert not contained.perimeter_check(NAME, None, [PROJECT_NUMBER]).ok


def test_doctor_refuses_no_perimeter_and_shows_an_accepted_one():
    cfg = make_cfg(gcp={"access_policy": None})
    check = contained.perimeter(cfg)
    assert not check.ok and "gcp.access_policy" in check.detail
    accepted = contained.perimeter(make_cfg(gcp={"access_policy": None,
                                                 "accept_no_perimeter": "sandbox, synthetic data"}))
    assert accepted.ok and "risk accepted (sandbox, synthetic data)" in accepted.detail


def test_doctor_refuses_a_data_bucket_of_a_project_outside_the_perimeter():
    """The perimeter must hold the data's project too (gcp.data_project), or the trainer inside
    could reach a bucket outside it."""
    inside = [PROJECT_NUMBER, OTHER_PROJECT_NUMBER]
    assert contained.data_project_check("acme-clinical-notes", OTHER_PROJECT_NUMBER, inside) is None
    outside = contained.data_project_check("acme-clinical-notes", "555555555555", [PROJECT_NUMBER])
    assert not outside.ok
    assert "gs://acme-clinical-notes belongs to project number 555555555555, outside the perimeter" in outside.detail
    assert "gcp.data_project" in outside.fix


def test_doctor_wires_the_data_project_check(monkeypatch):
    class Api:
        def get(self, url):
            if "cloudresourcemanager" in url:
                return {"projectNumber": PROJECT_NUMBER}
            return _perimeter([f"projects/{PROJECT_NUMBER}"])

        def bucket_project_number(self, name):
            return "555555555555"

    monkeypatch.setattr(contained, "_api", lambda cfg: Api())
    for gcp in ({"access_policy": "987654321"}, {"access_policy": None, "service_perimeter": NAME}):
        check = contained.perimeter(make_cfg(gcp=gcp))
        assert not check.ok and "outside the perimeter" in check.detail
    monkeypatch.setattr(Api, "bucket_project_number", lambda self, name: PROJECT_NUMBER)
    assert contained.perimeter(make_cfg(gcp={"access_policy": None, "service_perimeter": NAME})).ok


def test_doctor_asks_for_the_access_context_manager_api_only_with_a_perimeter():
    from stacks.gcp import preflight

    enabled = {f"{a}.googleapis.com" for a in preflight.APIS}
    check = preflight.api_check(make_cfg(), enabled)
    assert not check.ok and "accesscontextmanager.googleapis.com" in check.detail
    assert preflight.api_check(make_cfg(), enabled | {"accesscontextmanager.googleapis.com"}).ok
    accepted = make_cfg(gcp={"access_policy": None, "accept_no_perimeter": "sandbox, synthetic data"})
    assert preflight.api_check(accepted, enabled).ok
