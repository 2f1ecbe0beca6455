"""checkov over everything rendered in this session, in one run.

checkov lives in its own virtualenv (.venv-checkov, made by checkov_venv.sh): it pins an
old `packaging` that conflicts with pulumi. `--framework kubernetes` on rendered YAML
(checkov's helm framework needs a helm binary and otherwise passes silently),
`--skip-download` so it never calls out. A canary file with a deliberately insecure pod
runs in the same scan, so a scan that checks nothing cannot pass.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent

# Checks skipped on the kit's objects, each with its justification. Empty: every check
# checkov runs on the rendered charts and platform objects passes as is. A check added
# here is passed to checkov with --skip-check and must say why it does not apply.
SKIPPED: dict[str, str] = {}

# What the canary pod violates on purpose (a subset is enough to prove the scan is live).
CANARY_MUST_FAIL = {"CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_43", "CKV_K8S_28"}
# Checks that must have run, and passed, on the kit's objects.
KIT_MUST_PASS = {"CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_23", "CKV_K8S_28", "CKV_K8S_37",
                 "CKV_K8S_38", "CKV_K8S_43", "CKV_K8S_31", "CKV_K8S_11", "CKV_K8S_13",
                 "CKV2_K8S_6"}

CANARY = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "canary", "namespace": "canary"},
    "spec": {"containers": [{"name": "bad", "image": "nginx:latest",
                             "securityContext": {"allowPrivilegeEscalation": True}}]},
}


def _checkov() -> str:
    proc = subprocess.run([str(HERE / "checkov_venv.sh")], capture_output=True, text=True,
                          check=False, timeout=900)
    assert proc.returncode == 0, f"cannot create .venv-checkov: {proc.stderr[-2000:]}"
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_checkov_passes_every_rendered_object(rendered, example_renders, tmp_path):
    scan = tmp_path / "scan"
    (scan / "matrix").mkdir(parents=True)
    for case, objects in rendered.items():
        (scan / "matrix" / f"{case}.yaml").write_text(yaml.safe_dump_all(objects))
    for example, folder in example_renders.items():
        shutil.copytree(folder, scan / "examples" / example)
    (scan / "canary").mkdir()
    (scan / "canary" / "canary.yaml").write_text(yaml.safe_dump(CANARY))

    cmd = [_checkov(), "-d", str(scan), "--framework", "kubernetes", "--skip-download",
           "-o", "json"]
    if SKIPPED:
        cmd += ["--skip-check", ",".join(SKIPPED)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    report = json.loads(proc.stdout)
    results = (report[0] if isinstance(report, list) else report)["results"]

    def is_canary(check: dict) -> bool:
        return check["file_path"].startswith("/canary/")

    kit_failed = [f"{c['check_id']} {c['file_path']} {c['resource']}"
                  for c in results["failed_checks"] if not is_canary(c)]
    canary_failed = {c["check_id"] for c in results["failed_checks"] if is_canary(c)}
    kit_passed = {c["check_id"] for c in results["passed_checks"] if not is_canary(c)}

    assert len(kit_failed) == 0, kit_failed
    assert CANARY_MUST_FAIL <= canary_failed
    assert KIT_MUST_PASS <= kit_passed
    scanned = {c["file_path"].split("/")[1] for c in results["passed_checks"]}
    assert {"matrix", "examples"} <= scanned
