"""Workload identity: a user-assigned managed identity each for the trainer and the server,
trusted only for their Kubernetes ServiceAccounts on this cluster (federated credentials:
issuer = the cluster's OIDC issuer, subject = system:serviceaccount:<namespace>:<name>).

Role assignments are scoped to single containers, and narrowed with ABAC conditions where a
built-in role is wider than the kit needs: the trainer reads the data prefix and the model
mirror, reads and writes runs/ in the artifacts container and deletes nothing; the server
reads the model mirror and runs/. No Owner, no Contributor, nothing at subscription scope.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_azure_native as azure

from kit.errors import KitError
from stacks.azure_cloud import names
from stacks.azure_cloud.cluster import Cluster
from stacks.azure_cloud.common import Ctx, grant, user_identity
from stacks.azure_cloud.defaults import data_location
from stacks.azure_cloud.storage import Storage, container_id

RUNS_PREFIX = "runs/"
AUDIENCE = "api://AzureADTokenExchange"
_BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
PATH = f"@Resource[{_BLOBS}:path]"
READ = f"{_BLOBS}/read"
WRITES = (f"{_BLOBS}/write", f"{_BLOBS}/add/action", f"{_BLOBS}/move/action")


def _not(actions: tuple[str, ...]) -> str:
    return " AND ".join(f"!(ActionMatches{{'{a}'}})" for a in actions)


def reads_only_under(*prefixes: str) -> str:
    """Blob reads only under one of `prefixes` (listing the container stays allowed: the kit
    lists a prefix to find a manifest)."""
    paths = " OR ".join(f"{PATH} StringStartsWith '{p}'" for p in prefixes)
    return (f"((!(ActionMatches{{'{READ}'}} AND NOT SubOperationMatches{{'Blob.List'}})) "
            f"OR ({paths}))")


def writes_only_under(prefix: str) -> str:
    return f"(({_not(WRITES)}) OR ({PATH} StringStartsWith '{prefix}'))"


def run_writer(ctx: Ctx, st: Storage) -> azure.authorization.RoleDefinition:
    """A role that reads, writes and appends blobs and deletes none: no built-in storage role
    writes without deleting, and a condition cannot deny an action on its own. What a run
    overwrites stays as a version (the account keeps versions)."""
    return azure.authorization.RoleDefinition(
        "run-writer-role", role_definition_id=names.role_definition(ctx.name, ctx.subscription, "run-writer"),
        role_name=f"lima-kit {ctx.name} run writer", scope=ctx.kept.id, assignable_scopes=[ctx.kept.id],
        description="lima-kit: read, write and append blobs; never delete", role_type="CustomRole",
        permissions=[{"actions": ["Microsoft.Storage/storageAccounts/blobServices/containers/read"],
                      "data_actions": [READ, f"{_BLOBS}/write", f"{_BLOBS}/add/action"],
                      "not_actions": [], "not_data_actions": []}],
        opts=ctx.opts(parent=st.account))


@dataclass
class Identities:
    trainer: azure.managedidentity.UserAssignedIdentity
    server: azure.managedidentity.UserAssignedIdentity


def workloads(ctx: Ctx, c: Cluster, namespace: str, st: Storage,
              eval_uri: str | None = None) -> Identities:
    accounts = names.service_accounts(ctx.name)
    made = {}
    for logical in ("trainer", "server"):
        ident = user_identity(ctx, logical)
        azure.managedidentity.FederatedIdentityCredential(
            f"{logical}-federation", federated_identity_credential_resource_name=f"{ctx.name}-{logical}",
            resource_name_=ident.name, resource_group_name=ctx.group.name, issuer=c.issuer,
            subject=f"system:serviceaccount:{namespace}:{accounts[logical]}", audiences=[AUDIENCE],
            opts=ctx.opts(parent=ident))
        made[logical] = ident
    trainer, server = made["trainer"], made["server"]
    artifacts = container_id(st.account.id, "artifacts")
    models = container_id(st.account.id, "models")
    reader = "Storage Blob Data Reader"
    prefixes = [st.data_prefix]
    if eval_uri:
        account, container, prefix = data_location(eval_uri, "eval.uri")
        if (account, container) != (st.data_account_name, st.data_container):
            raise KitError(f"eval.uri: {eval_uri} must be in the data container "
                           f"(az://{st.data_account_name}/{st.data_container}) on azure: the trainer "
                           "reads that container only",
                           hint=f"put the held-out set under az://{st.data_account_name}/{st.data_container}/")
        prefixes.append(prefix)
    # One assignment per principal, role and scope (Azure refuses a second one): the held-out
    # set's prefix joins the data's in the same condition.
    data_read = reads_only_under(*prefixes) if all(prefixes) else None
    grant(ctx, "trainer-data-read", trainer.principal_id, reader, st.data_container_id,
          condition=data_read, parent=trainer)
    grant(ctx, "trainer-models-read", trainer.principal_id, reader, models, parent=trainer)
    grant(ctx, "trainer-runs-write", trainer.principal_id, run_writer(ctx, st).id, artifacts,
          parent=trainer, condition=" AND ".join((writes_only_under(RUNS_PREFIX),
                                                  reads_only_under(RUNS_PREFIX))))
    grant(ctx, "server-models-read", server.principal_id, reader, models, parent=server)
    grant(ctx, "server-runs-read", server.principal_id, reader, artifacts,
          condition=reads_only_under(RUNS_PREFIX), parent=server)
    return Identities(trainer=trainer, server=server)

