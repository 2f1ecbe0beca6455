"""Where the server's model is staged on AWS: EBS volumes encrypted with the kit's key and
their snapshots, so the server's pods read no bucket (see charts/stage)."""

from __future__ import annotations

import json

from tests.stacks.conftest import as_list, inputs, policy_doc

KEY_ARN_HINT = ":key/"


def test_csi_driver_and_snapshot_controller_are_add_ons_with_their_own_identity(default_plan):
    addons = {r["inputs"]["addonName"]: r["inputs"]
              for r in default_plan.of_type("aws:eks/addon:Addon")}
    assert "snapshot-controller" in addons
    csi = addons["aws-ebs-csi-driver"]
    assert json.loads(csi["configurationValues"]) == {"node": {"tolerateAllTaints": True}}
    (assoc,) = csi["podIdentityAssociations"]
    assert assoc["serviceAccount"] == "ebs-csi-controller-sa"
    assert assoc["roleArn"].endswith(":role/acme-notes-ebs-csi")
    attachments = default_plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    attached = {r["inputs"]["policyArn"] for r in attachments if r["name"].startswith("ebs-csi-")}
    assert attached == {"arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"}
    inline = policy_doc(inputs(default_plan, "aws:iam/rolePolicy:RolePolicy", "ebs-csi-inline")["policy"])
    for stmt in inline:                        # the kit's key, only for EC2's volumes
        assert all(KEY_ARN_HINT in r for r in as_list(stmt["Resource"]))
        assert stmt["Condition"] in ({"Bool": {"kms:GrantIsForAWSResource": "true"}},
                                     {"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}})


def test_model_volumes_are_encrypted_with_the_kits_key_and_snapshots_go_with_them(default_plan):
    storage = inputs(default_plan, "kubernetes:storage.k8s.io/v1:StorageClass")
    assert storage["provisioner"] == "ebs.csi.aws.com"
    assert storage["parameters"]["encrypted"] == "true" and storage["parameters"]["type"] == "gp3"
    assert KEY_ARN_HINT in storage["parameters"]["kmsKeyId"]
    assert storage["volumeBindingMode"] == "WaitForFirstConsumer"
    assert storage["reclaimPolicy"] == "Delete"
    snapshots = inputs(default_plan, "kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshotClass")
    assert snapshots["driver"] == "ebs.csi.aws.com" and snapshots["deletionPolicy"] == "Delete"
    classes = [r for r in default_plan.resources if r["type"].endswith((":StorageClass", ":VolumeSnapshotClass"))]
    addon_urns = {r["urn"] for r in default_plan.of_type("aws:eks/addon:Addon")
                  if r["inputs"]["addonName"] in ("aws-ebs-csi-driver", "snapshot-controller")}
    for resource in classes:                   # the CRDs and the driver exist first
        assert addon_urns <= set(resource["depends_on"])


def test_a_run_plan_stages_then_snapshots_then_serves():
    """With a run id the plan registers the run's workloads too: the snapshot waits for the
    stage Job, the server's Deployment for the snapshot, and the server's pod reads no bucket."""
    from tests.stacks.conftest import plan_of

    plan = plan_of(run_id="ft-1")
    job = plan.one("kubernetes:batch/v1:Job", "job:lima-kit/acme-notes-stage-969d688874")
    snapshot = plan.one("kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshot")
    deploy = plan.one("kubernetes:apps/v1:Deployment", "deployment:lima-kit/acme-notes-server")
    assert job["urn"] in snapshot["depends_on"] and snapshot["urn"] in deploy["depends_on"]
    pod = deploy["inputs"]["spec"]["template"]
    assert "lima-kit.io/storage-egress" not in pod["metadata"]["labels"]
    assert pod["spec"]["serviceAccountName"] == "acme-notes-engine"
    assert job["inputs"]["spec"]["template"]["metadata"]["labels"]["lima-kit.io/storage-egress"] == "true"
    assert job["inputs"]["spec"]["template"]["spec"]["serviceAccountName"] == "acme-notes-server"
