"""Run one image build on the stack's CodeBuild project (stacks/aws/builder.py) and follow it:
start it on the uploaded bundle, report each phase as it ends, and return the digest the
buildspec exported, or say in one line which phase failed, why, and where its log is.

`follow_build` is a fold over the CodeBuild API's answers (BatchGetBuilds), so the tests replay
answers shaped as the API reference documents them."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any, Callable

from kit.errors import KitError, require
from stacks.aws.names import builder_project

if TYPE_CHECKING:
    from kit.config import KitConfig
    from kit.images.remote import RemoteBuild

POLL_S = 10.0
TIMEOUT_S = 2.5 * 3600      # the project's own build timeout (120 min) plus its queue


def run(cfg: "KitConfig", spec: "RemoteBuild", log: Callable[[str], None]) -> str:
    boto3 = require("boto3", "aws")
    from kit.data.storage import parse_uri

    loc = parse_uri(spec.source)
    client = boto3.client("codebuild", region_name=cfg.region)
    env = {"IMAGE": spec.image, "BUILD_ARGS": spec.build_args, "LABELS": spec.labels}
    return follow_build(client, builder_project(cfg.name), f"{loc.bucket}/{loc.prefix.rstrip('/')}",
                        env, log)


def follow_build(client: Any, project: str, source: str, env: dict[str, str],
                 log: Callable[[str], None], *, poll_s: float = POLL_S,
                 timeout_s: float = TIMEOUT_S, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> str:
    """Start a build of `project` on the bundle at `source` (bucket/key) and follow it."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        build = client.start_build(
            projectName=project, sourceLocationOverride=source,
            environmentVariablesOverride=[{"name": k, "value": v, "type": "PLAINTEXT"}
                                          for k, v in env.items()])["build"]
    except (BotoCoreError, ClientError) as exc:
        raise KitError(f"codebuild {project}: cannot start a build: {' '.join(str(exc).split())[:200]}",
                       hint="`kit up` creates the project; the operator needs codebuild:StartBuild "
                            "and codebuild:BatchGetBuilds on it") from None
    log(f"  codebuild {project}: build {build['id']} started")
    reported: set[str] = set()
    deadline = clock() + timeout_s
    while True:
        build = client.batch_get_builds(ids=[build["id"]])["builds"][0]
        for phase in build.get("phases") or []:
            kind, status = phase.get("phaseType"), phase.get("phaseStatus")
            if status and kind not in reported:
                reported.add(kind)
                seconds = phase.get("durationInSeconds")
                log(f"    {kind.lower()}: {status.lower()}" + (f" ({seconds}s)" if seconds is not None else ""))
        if build.get("buildComplete"):
            break
        if clock() > deadline:
            raise KitError(f"codebuild {project}: build {build['id']} still runs after "
                           f"{timeout_s / 3600:.1f} h", hint=f"stop it: aws codebuild stop-build --id {build['id']}")
        sleep(poll_s)
    return _outcome(project, build)


def _outcome(project: str, build: dict[str, Any]) -> str:
    status = build.get("buildStatus")
    logs = build.get("logs") or {}
    where = (f"aws logs tail {logs['groupName']} --log-stream-names {logs['streamName']}"
             if logs.get("groupName") and logs.get("streamName") else "the CodeBuild console")
    if status != "SUCCEEDED":
        failed = next((p for p in build.get("phases") or []
                       if p.get("phaseStatus") not in (None, "SUCCEEDED")), {})
        message = "; ".join(c.get("message", "") for c in failed.get("contexts") or []
                            if c.get("message")) or status
        raise KitError(f"codebuild {project}: build {build['id']} {str(status).lower()} in "
                       f"{str(failed.get('phaseType', 'an unknown phase')).lower()}: {message}",
                       hint=f"its log: {where}")
    exported = {v.get("name"): v.get("value") for v in build.get("exportedEnvironmentVariables") or []}
    digest = exported.get("IMAGE_DIGEST") or ""
    if not re.fullmatch(r"sha256:[a-f0-9]{64}", digest):
        raise KitError(f"codebuild {project}: build {build['id']} exported no image digest",
                       hint=f"its log: {where}")
    return digest
