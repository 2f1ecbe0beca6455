"""Workload Identity: the trainer's and the server's Kubernetes service accounts act as their
own Google service accounts; no key files exist anywhere.

The trainer reads the data's prefix (and a held-out set beside it), the model mirror and the
runs, and writes runs; the server reads the model mirror and the runs. Every grant is on a
bucket, most on a prefix (an IAM condition); none on the project, none to allUsers or
allAuthenticatedUsers, no basic role (owner, editor, viewer).

The trainer can delete nothing: on runs/ it holds Storage Object Creator and Storage Object
Viewer, together storage.objects.create, get and list (and the XML multipart upload calls on
its own uploads), no storage.objects.delete and no storage.objects.update. Cloud Storage
replaces an object only with storage.objects.delete, so the trainer cannot overwrite either;
its uploads never need to, since the kit publishes create-only (kit.data.published: a new
name per changed file and per manifest). Composing a new object needs create and get only.
(https://cloud.google.com/storage/docs/access-control/iam-roles and
https://cloud.google.com/storage/docs/json_api/v1/objects/compose, read 2026-12-07.)
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from kit.errors import KitError
from kit.layout.buckets import RUNS_PREFIX
from kit.layout.kube_names import service_accounts
from stacks.gcp.common import Ctx, member
from stacks.gcp.names import google_account_id
from stacks.gcp.storage import Buckets, grant, parse_gs_uri

READ = "roles/storage.objectViewer"  # storage.objects.get, storage.objects.list
CREATE = "roles/storage.objectCreator"  # storage.objects.create: no delete, no replace


@dataclass
class Identities:
    trainer: gcp.serviceaccount.Account
    server: gcp.serviceaccount.Account


def _account(ctx: Ctx, logical: str, namespace: str, ksa: str,
             after: list[pulumi.Resource]) -> gcp.serviceaccount.Account:
    sa = gcp.serviceaccount.Account(
        f"{logical}-account", account_id=google_account_id(ctx.name, logical),
        display_name=f"lima-kit {ctx.name} {logical}",
        description=f"Workload Identity of {namespace}/{ksa}", opts=ctx.opts())
    gcp.serviceaccount.IAMMember(
        f"{logical}-workload-identity", service_account_id=sa.name,
        role="roles/iam.workloadIdentityUser",
        member=f"serviceAccount:{ctx.project}.svc.id.goog[{namespace}/{ksa}]",
        opts=ctx.opts(parent=sa, depends_on=after))
    return sa


def workloads(ctx: Ctx, namespace: str, buckets: Buckets, eval_uri: str | None,
              after: list[pulumi.Resource]) -> Identities:
    """`after`: the cluster (the binding names its Workload Identity pool)."""
    accounts = service_accounts(ctx.name)
    trainer = _account(ctx, "trainer", namespace, accounts["trainer"], after)
    server = _account(ctx, "server", namespace, accounts["server"], after)
    held_out = None
    if eval_uri:  # a fixed held-out set: read like the data, from the same bucket
        eval_bucket, held_out = parse_gs_uri(eval_uri, "eval.uri")
        if eval_bucket != buckets.data_name:
            raise KitError(f"eval.uri: {eval_uri} must be in the data bucket ({buckets.data_name}) "
                           "on gcp: the trainer reads that bucket only",
                           hint=f"put the held-out set under gs://{buckets.data_name}/")
    t, s = member(trainer.email), member(server.email)
    grant(ctx, "trainer-data", buckets.data_name, READ, t, buckets.data_prefix, trainer)
    if held_out is not None:
        grant(ctx, "trainer-eval", buckets.data_name, READ, t, held_out, trainer)
    grant(ctx, "trainer-models", buckets.models.name, READ, t, None, trainer)
    grant(ctx, "trainer-runs", buckets.artifacts.name, CREATE, t, RUNS_PREFIX, trainer)
    grant(ctx, "trainer-runs-read", buckets.artifacts.name, READ, t, RUNS_PREFIX, trainer)
    grant(ctx, "server-models", buckets.models.name, READ, s, None, server)
    grant(ctx, "server-runs", buckets.artifacts.name, READ, s, RUNS_PREFIX, server)
    return Identities(trainer=trainer, server=server)
