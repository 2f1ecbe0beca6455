"""`kit images build --remote` on AWS: the bundle the kit uploads, and following a CodeBuild
build through answers shaped as the CodeBuild API reference documents BatchGetBuilds."""

from __future__ import annotations

import zipfile

import pytest

from kit.errors import KitError
from kit.images.build import BuildRequest
from kit.jsonio import write_json
from stacks.aws.remote_build import follow_build

DIGEST = "sha256:" + "c" * 64
LOGS = {"groupName": "/aws/codebuild/acme-notes-images", "streamName": "a1b2c3"}


def phase(kind: str, status: str | None, seconds: int | None = None, message: str = "") -> dict:
    out = {"phaseType": kind, "phaseStatus": status, "durationInSeconds": seconds,
           "contexts": [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": message}] if message else []}
    return {k: v for k, v in out.items() if v is not None}


class CodeBuild:
    """Answers start_build, then one scripted BatchGetBuilds answer per poll."""

    def __init__(self, answers: list[dict]) -> None:
        self.answers = answers
        self.started: dict = {}

    def start_build(self, **kwargs):
        self.started = kwargs
        return {"build": {"id": "acme-notes-images:1", "buildStatus": "IN_PROGRESS"}}

    def batch_get_builds(self, ids):
        assert ids == ["acme-notes-images:1"]
        return {"builds": [{"id": ids[0], "logs": LOGS, **self.answers.pop(0)}]}


def follow(client, **kw):
    lines: list[str] = []
    digest = follow_build(client, "acme-notes-images", "bucket/builds/kit-1.zip",
                          {"IMAGE": "r/kit:0.1.0"}, lines.append, sleep=lambda _s: None, **kw)
    return digest, lines


def test_a_build_that_succeeds_reports_each_phase_once_and_returns_the_digest():
    running = {"buildStatus": "IN_PROGRESS", "buildComplete": False,
               "phases": [phase("SUBMITTED", "SUCCEEDED", 0), phase("PROVISIONING", "SUCCEEDED", 31),
                          phase("BUILD", None)]}
    done = {"buildStatus": "SUCCEEDED", "buildComplete": True,
            "phases": running["phases"][:2] + [phase("BUILD", "SUCCEEDED", 412), phase("COMPLETED", None)],
            "exportedEnvironmentVariables": [{"name": "IMAGE_DIGEST", "value": DIGEST}]}
    client = CodeBuild([running, running, done])
    digest, lines = follow(client)
    assert digest == DIGEST
    assert lines == ["  codebuild acme-notes-images: build acme-notes-images:1 started",
                     "    submitted: succeeded (0s)", "    provisioning: succeeded (31s)",
                     "    build: succeeded (412s)"]
    assert client.started["sourceLocationOverride"] == "bucket/builds/kit-1.zip"
    assert client.started["environmentVariablesOverride"] == [
        {"name": "IMAGE", "value": "r/kit:0.1.0", "type": "PLAINTEXT"}]


def test_a_failed_build_names_the_phase_the_reason_and_the_log():
    failed = {"buildStatus": "FAILED", "buildComplete": True,
              "phases": [phase("PROVISIONING", "SUCCEEDED", 30),
                         phase("BUILD", "FAILED", 95, "Error while executing command: docker push "
                                                      "\"$IMAGE\". Reason: exit status 1")]}
    with pytest.raises(KitError) as err:
        follow(CodeBuild([failed]))
    assert err.value.message == ("codebuild acme-notes-images: build acme-notes-images:1 failed in "
                                 "build: Error while executing command: docker push \"$IMAGE\". "
                                 "Reason: exit status 1")
    assert err.value.hint == f"its log: aws logs tail {LOGS['groupName']} --log-stream-names a1b2c3"


def test_a_build_that_exports_no_digest_is_not_taken_as_pushed():
    done = {"buildStatus": "SUCCEEDED", "buildComplete": True, "phases": [],
            "exportedEnvironmentVariables": [{"name": "IMAGE_DIGEST", "value": ""}]}
    with pytest.raises(KitError, match="exported no image digest"):
        follow(CodeBuild([done]))


def test_a_build_that_never_ends_is_given_up_on_with_the_stop_command():
    running = {"buildStatus": "IN_PROGRESS", "buildComplete": False, "phases": []}
    ticks = iter(range(0, 10_000, 60))
    with pytest.raises(KitError) as err:
        follow(CodeBuild([dict(running) for _ in range(200)]), timeout_s=600,
               clock=lambda: next(ticks))
    assert "aws codebuild stop-build --id acme-notes-images:1" in err.value.hint


def test_remote_build_uploads_the_context_and_records_what_the_builder_pushed(aws_cfg, tmp_path,
                                                                               monkeypatch):
    from kit.images.remote import remote_build
    from kit.render import cluster_for

    artifacts = tmp_path / "artifacts"
    registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-notes"
    write_json(aws_cfg.workdir.cluster_outputs, {
        "cloud": "aws", "cluster_name": "acme-notes", "artifacts_uri": artifacts.as_uri(),
        "models_uri": "s3://m", "registry_prefix": registry})
    seen = []

    def codebuild(cfg, spec, log):
        seen.append(spec)
        return DIGEST

    def own_wheel_only(dest, root, extras, **kw):   # the wheelhouse is tests/unit/test_image_wheels.py's
        dest.mkdir(parents=True)
        (dest / "lima_kit-0.1.0-py3-none-any.whl").write_bytes(b"wheel")
        (dest / "requirements.txt").write_text("lima-kit==0.1.0 --hash=sha256:" + "e" * 64 + "\n")
        return ["lima_kit-0.1.0-py3-none-any.whl"]

    monkeypatch.setattr("stacks.aws.remote_build.run", codebuild)
    monkeypatch.setattr("kit.images.build.wheelhouse", own_wheel_only)
    base = f"{registry}/docker-hub/pytorch/pytorch@sha256:" + "d" * 64
    pushed = remote_build(aws_cfg, cluster_for(aws_cfg), BuildRequest(name="trainer", base=base),
                          log=lambda _l: None)
    assert pushed.reference == f"{registry}/trainer:0.1.0@{DIGEST}"
    (spec,) = seen
    assert spec.image == f"{registry}/trainer:0.1.0"
    assert f"--build-arg BASE_IMAGE={base}" in spec.build_args
    assert "--build-arg BASE_TORCH=2.9.0" in spec.build_args       # checked against the base in the build
    assert "--label org.opencontainers.image.version=0.1.0" in spec.labels
    bundle = artifacts / "builds" / spec.source.rsplit("/", 1)[1]
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
    assert "Dockerfile" in names and any(n.startswith("wheels/lima_kit-0.1.0") for n in names)
    assert "wheels/requirements.txt" in names


def test_an_existing_cluster_has_no_remote_builder(k8s_cfg):
    from kit.images.remote import builder

    with pytest.raises(KitError, match="no image builder of the kit's own there"):
        builder(k8s_cfg)
