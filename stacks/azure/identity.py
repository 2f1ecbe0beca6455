"""Storage identity: the node pools' managed identity (the cluster's kubelet identity), whose
tokens pods get from the instance metadata endpoint on their node (169.254.169.254), reached
only by the pods the kit's NetworkPolicy lets there.

Why not workload identity: it exchanges a pod's token at Microsoft Entra ID's sign-in
endpoints (login.microsoftonline.com), which have no private endpoint; reaching them takes a
NAT gateway and the AzureActiveDirectory service tag, which serve every tenant, so a
compromised pod could sign in to an attacker's tenant and write there. The metadata endpoint
answers on the node itself and needs no path out. The price: the trainer, the stage and the
server hold one identity (the union of their grants below) instead of one each; the network
keeps them inside the customer's tenant. The node pools carry this identity only (no add-on
identities), so the endpoint needs no client id: a client id is "required, if your VM has
multiple user-assigned managed identities"
(https://learn.microsoft.com/en-us/javascript/api/@azure/ms-rest-nodeauth/msivmoptions, read
2026-12-07). docs/design.md weighs the trade-off.

Role assignments are scoped to single containers, and narrowed with ABAC conditions where a
built-in role is wider than the kit needs: reads of the data prefix and the model mirror, reads
and writes of runs/ in the artifacts container, and no delete anywhere. No Owner, no
Contributor, nothing at subscription scope.
"""

from __future__ import annotations

import pulumi_azure_native as azure

from kit.errors import KitError
from kit.layout.buckets import RUNS_PREFIX
from stacks.azure import names
from stacks.azure.cluster import Cluster
from stacks.azure.common import Ctx, grant
from stacks.azure.defaults import data_location
from stacks.azure.storage import Storage, container_id

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
    writes without deleting, and a condition cannot deny an action on its own.

    Azure cannot express "create, never replace": blobs/write covers both, and a role
    assignment condition on it has no request attribute for the If-None-Match precondition
    (https://learn.microsoft.com/azure/storage/blobs/storage-auth-abac-attributes, "Write to a
    blob": no request attributes; read 2026-12-07). So the guarantee is the kit's: every write
    it makes carries If-None-Match: * (kit/data/stores/azure.py, kit.data.published), and
    whatever else replaces a blob leaves the old one as a version (the account keeps them)."""
    return azure.authorization.RoleDefinition(
        "run-writer-role", role_definition_id=names.role_definition(ctx.name, ctx.subscription, "run-writer"),
        role_name=f"lima-kit {ctx.name} run writer", scope=ctx.kept.id, assignable_scopes=[ctx.kept.id],
        description="lima-kit: read, write and append blobs; never delete", role_type="CustomRole",
        permissions=[{"actions": ["Microsoft.Storage/storageAccounts/blobServices/containers/read"],
                      "data_actions": [READ, f"{_BLOBS}/write", f"{_BLOBS}/add/action"],
                      "not_actions": [], "not_data_actions": []}],
        opts=ctx.opts(parent=st.account))


def workloads(ctx: Ctx, c: Cluster, st: Storage, eval_uri: str | None = None) -> None:
    """The storage grants, to the node pools' identity (c.kubelet)."""
    nodes = c.kubelet
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
    grant(ctx, "nodes-data-read", nodes.principal_id, reader, st.data_container_id,
          condition=data_read, parent=nodes)
    grant(ctx, "nodes-models-read", nodes.principal_id, reader, models, parent=nodes)
    grant(ctx, "nodes-runs-write", nodes.principal_id, run_writer(ctx, st).id, artifacts,
          parent=nodes, condition=" AND ".join((writes_only_under(RUNS_PREFIX),
                                                reads_only_under(RUNS_PREFIX))))
