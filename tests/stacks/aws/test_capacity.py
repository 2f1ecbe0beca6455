"""aws.capacity_reservation (as gcp.reservation): the GPU pool launches into an On-Demand
Capacity Reservation or a Capacity Block, shown in the plan; a bad id is one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from kit.errors import KitError
from tests.stacks.conftest import BASE, inputs, make_cfg, plan_of

CR = "cr-0123456789abcdef0"
ZONE = "us-east-1a"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
NODES = "aws:eks/nodeGroup:NodeGroup"


def test_by_default_the_gpu_pool_targets_no_reservation(default_plan):
    lt = inputs(default_plan, LT, "gpu-lt")
    assert "capacityReservationSpecification" not in lt and "instanceMarketOptions" not in lt


def test_an_on_demand_capacity_reservation_is_targeted_by_the_gpu_launch_template():
    """An ODCR is consumed by naming it in the launch template's
    CapacityReservationSpecification.CapacityReservationTarget (EC2 user guide, "Capacity
    Reservations"; the EKS ML capacity block pattern of terraform-aws-eks-blueprints,
    aws-ia.github.io/terraform-aws-eks-blueprints/patterns/ml-capacity-block/, read 2026-12-07)."""
    plan = plan_of(make_cfg(aws={"capacity_reservation": CR, "capacity_reservation_zone": ZONE}))
    lt = inputs(plan, LT, "gpu-lt")
    assert lt["capacityReservationSpecification"] == {"capacityReservationTarget":
                                                      {"capacityReservationId": CR}}
    assert "instanceMarketOptions" not in lt
    gpu = inputs(plan, NODES, "gpu")
    assert gpu["capacityType"] == "ON_DEMAND"
    assert gpu["instanceTypes"] == ["p5.48xlarge"]        # a reservation holds one type
    assert "capacityReservationSpecification" not in inputs(plan, LT, "system-lt")


def test_a_capacity_block_needs_the_capacity_block_market_and_capacity_type():
    """EKS user guide, "Create a managed node group with Capacity Blocks for ML"
    (docs.aws.amazon.com/eks/latest/userguide/capacity-blocks-mng.html, read 2026-12-07): the
    launch template's InstanceMarketOptions.MarketType "capacity-block" and
    CapacityReservationTarget.CapacityReservationId, and the node group's capacity type
    CAPACITY_BLOCK."""
    plan = plan_of(make_cfg(aws={"capacity_reservation": CR, "capacity_reservation_zone": ZONE,
                                 "capacity_block": True}))
    lt = inputs(plan, LT, "gpu-lt")
    assert lt["instanceMarketOptions"] == {"marketType": "capacity-block"}
    assert lt["capacityReservationSpecification"]["capacityReservationTarget"] == {
        "capacityReservationId": CR}
    assert inputs(plan, NODES, "gpu")["capacityType"] == "CAPACITY_BLOCK"
    assert inputs(plan, NODES, "system")["capacityType"] == "ON_DEMAND"


@pytest.mark.parametrize("bad", ["cr-123", "odcr-0123456789abcdef0", "CR-0123456789ABCDEF0"])
def test_a_bad_reservation_id_is_a_one_line_error(bad):
    with pytest.raises(KitError) as err:
        make_cfg(aws={"capacity_reservation": bad, "capacity_reservation_zone": ZONE})
    assert err.value.one_line().startswith(f"kit.yaml: aws.capacity_reservation: {bad!r} is not a "
                                           "capacity reservation id")


def test_a_capacity_block_without_its_id_is_refused():
    with pytest.raises(KitError, match="aws.capacity_block: true needs aws.capacity_reservation"):
        make_cfg(aws={"capacity_block": True})


def test_spot_cannot_use_a_reservation():
    with pytest.raises(KitError, match="aws.capacity_reservation: .* but gpu.spot is true"):
        plan_of(make_cfg(aws={"capacity_reservation": CR, "capacity_reservation_zone": ZONE},
                         gpu={"spot": True}))


def test_kit_plan_shows_the_reservation_and_refuses_a_bad_id_in_one_line(tmp_path):
    raw = json.loads(json.dumps(BASE))
    raw["aws"] = {"capacity_reservation": CR, "capacity_reservation_zone": ZONE,
                  "capacity_block": True}
    good = tmp_path / "kit.yaml"
    good.write_text(yaml.safe_dump(raw))
    proc = subprocess.run([sys.executable, "-m", "kit", "plan", "--offline", "-f", str(good),
                           "--output", "json"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    (lt,) = [r for r in json.loads(proc.stdout)["resources"]
             if r["type"] == LT and r["name"] == "gpu-lt"]
    assert lt["inputs"]["capacityReservationSpecification"]["capacityReservationTarget"] == {
        "capacityReservationId": CR}
    raw["aws"]["capacity_reservation"] = "cr-nope"
    good.write_text(yaml.safe_dump(raw))
    proc = subprocess.run([sys.executable, "-m", "kit", "plan", "--offline", "-f", str(good)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "aws.capacity_reservation: 'cr-nope'" in lines[0]
    assert "Traceback" not in proc.stderr


def _found(**over):
    return {"CapacityReservationId": CR, "InstanceType": "p5.48xlarge", "TotalInstanceCount": 2,
            "AvailabilityZone": "us-east-1a", "State": "active", "ReservationType": "default",
            **over}


@pytest.mark.parametrize("aws,found,ok,detail", [
    ({}, _found(), True, f"{CR} (p5.48xlarge x 2 in us-east-1a, active)"),
    ({}, None, False, f"{CR}: not found in us-east-1"),
    ({}, _found(InstanceType="p4d.24xlarge"), False, "the GPU pool launches p5.48xlarge"),
    ({}, _found(State="expired"), False, "nothing can launch into it"),
    ({}, _found(ReservationType="capacity-block", State="scheduled"), False,
     "is a capacity-block reservation"),
    ({"capacity_block": True}, _found(ReservationType="capacity-block", State="scheduled"), True,
     "scheduled)"),
    ({"capacity_block": True}, _found(), False, "is a default reservation"),
    ({}, _found(AvailabilityZone="us-east-1b"), False,
     "but aws.capacity_reservation_zone is us-east-1a"),
])
def test_doctor_checks_the_reservation_against_the_gpu_pool(aws, found, ok, detail):
    """What DescribeCapacityReservations answers (EC2 API reference: InstanceType, State,
    ReservationType default | capacity-block; read 2026-12-07), against kit.yaml."""
    from stacks.aws.preflight import reservation_check

    check = reservation_check(make_cfg(aws={"capacity_reservation": CR,
                                            "capacity_reservation_zone": ZONE, **aws}), found)
    assert check.ok is ok and detail in check.detail, check


def test_doctor_reads_the_reservation_from_ec2(monkeypatch):
    """Through boto3's real client, answered by botocore's Stubber (no network)."""
    import boto3
    from botocore.stub import Stubber

    from stacks.aws.preflight import capacity_reservation, checks

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("ec2", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_response("describe_capacity_reservations", {"CapacityReservations": [_found()]},
                      {"CapacityReservationIds": [CR]})
    monkeypatch.setattr(boto3, "client", lambda *a, **k: client)
    cfg = make_cfg(aws={"capacity_reservation": CR, "capacity_reservation_zone": ZONE})
    with stub:
        check = capacity_reservation(cfg)
    assert check.ok and check.detail.startswith(CR)
    assert capacity_reservation in checks(cfg)
    assert capacity_reservation not in checks(make_cfg())


def test_the_gpu_pool_launches_only_in_the_reservations_zone():
    """An instance in another zone cannot use the reservation (the EKS Blueprints Capacity
    Block pattern, aws-ia.github.io/terraform-aws-eks-blueprints, read 2026-12-07): the GPU node
    group gets only that zone's subnet; the system pool keeps them all."""
    plan = plan_of(make_cfg(aws={"capacity_reservation": CR,
                                 "capacity_reservation_zone": "us-east-1b"}))
    (in_b,) = [r["name"] for r in plan.of_type("aws:ec2/subnet:Subnet")
               if r["inputs"]["availabilityZone"] == "us-east-1b"]
    # the subnet's id, as the route table association of the same name refers to it
    subnet_id = inputs(plan, "aws:ec2/routeTableAssociation:RouteTableAssociation", in_b)["subnetId"]
    assert inputs(plan, NODES, "gpu")["subnetIds"] == [subnet_id]
    assert len(inputs(plan, NODES, "system")["subnetIds"]) == 3


def test_a_new_vpc_includes_the_reservations_zone():
    plan = plan_of(make_cfg(aws={"capacity_reservation": CR,
                                 "capacity_reservation_zone": "us-east-1c", "az_count": 2}))
    zones = sorted(r["inputs"]["availabilityZone"] for r in plan.of_type("aws:ec2/subnet:Subnet"))
    assert zones == ["us-east-1a", "us-east-1c"]
    assert len(inputs(plan, NODES, "gpu")["subnetIds"]) == 1


def test_a_reservation_zone_none_of_the_existing_subnets_is_in_is_refused():
    from tests.stacks.conftest import EXISTING_VPC

    with pytest.raises(KitError) as err:
        plan_of(make_cfg(aws={**EXISTING_VPC, "capacity_reservation": CR,
                              "capacity_reservation_zone": "us-east-1f"}))
    assert err.value.one_line().startswith(
        "aws.capacity_reservation_zone: us-east-1f is the zone of none of the GPU pool's subnets")


def test_a_reservation_without_its_zone_is_refused():
    with pytest.raises(KitError, match="aws.capacity_reservation and "
                                       "aws.capacity_reservation_zone go together"):
        make_cfg(aws={"capacity_reservation": CR})
