"""Azure: adopt what an earlier deployment of the same stack kept, or purge it.

`kit down` without --purge keeps the kept resource group with the kit's storage account, key
vault, key and audit workspace (retainOnDelete), and Pulumi forgets them. Their names are
deterministic, so the next `kit up` would collide with them. Before `pulumi up` the kit asks
ARM which of them exist and carry this stack's tag, and passes their ARM ids to the program
(stack config `adopt`), which imports them. A resource with the kit's name but not this
stack's tag belongs to someone else: the kit refuses to touch it.

Key vault names stay reserved while a deleted vault is soft-deleted (purge protection: 90
days); a `kit up` that meets its own deleted vault says how to recover it.

`kit down --purge` after a plain `kit down` checks the same way, refuses if the kept group
holds anything the kit did not make, and deletes the group (and so everything in it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kit.errors import KitError
from stacks.azure import names
from stacks.azure.arm import Arm, ArmError, connect, failure

if TYPE_CHECKING:
    from kit.config import KitConfig

# Logical name -> (Pulumi type, ARM api-version to read it with, the kept resource it belongs
# to). A child has no tags of its own: it is adopted with its parent, when it exists.
KEPT: dict[str, tuple[str, str, str]] = {
    "kept-group": ("azure-native:resources:ResourceGroup", "2021-04-01", ""),
    "storage": ("azure-native:storage:StorageAccount", "2023-05-01", ""),
    "storage-blob-service": ("azure-native:storage:BlobServiceProperties", "2023-05-01", "storage"),
    **{f"container-{c}": ("azure-native:storage:BlobContainer", "2023-05-01", "storage")
       for c in names.KIT_CONTAINERS},
    "vault": ("azure-native:keyvault:Vault", "2023-07-01", ""),
    "key": ("azure-native:keyvault:Key", "2023-07-01", "vault"),
    "encryption-identity": ("azure-native:managedidentity:UserAssignedIdentity", "2023-01-31", ""),
    "encryption-key-user": ("azure-native:authorization:RoleAssignment", "2022-04-01", "encryption-identity"),
    "audit-logs": ("azure-native:operationalinsights:Workspace", "2023-09-01", ""),
    **{f"audit-table-{t}": ("azure-native:operationalinsights:Table", "2023-09-01", "audit-logs")
       for t in names.AUDIT_TABLES},
}
DETECT_PERMISSIONS = ("Reader on the kept resource group lima-kit-NAME-kept and "
                      "Microsoft.KeyVault/locations/deletedVaults/read")
PURGE_PERMISSIONS = "Microsoft.Resources/subscriptions/resourceGroups/delete on the kept group"


def managed(deployment: dict[str, Any]) -> set[str]:
    """Logical names of kept resources the stack's state already holds."""
    from stacks.settings import held_in_state

    return held_in_state(deployment, {name: kind[0] for name, kind in KEPT.items()})


def adoptions(cfg: "KitConfig", deployment: dict[str, Any]) -> dict[str, str]:
    """Logical name -> ARM id of each kept resource of this stack to import on `up`."""
    from stacks.azure.defaults import subscription

    return find_adoptions(cfg, deployment, connect(subscription(cfg)))


def find_adoptions(cfg: "KitConfig", deployment: dict[str, Any], arm: Arm) -> dict[str, str]:
    """As `adoptions`, asking `arm`; only for what the state does not hold already, so an
    ordinary second `kit up` asks nothing."""
    wanted = set(KEPT) - managed(deployment)
    if not wanted:
        return {}
    try:
        return detect(cfg, wanted, arm)
    except ArmError as exc:
        raise failure(f"cannot check for resources kept by an earlier `kit down` of {cfg.name}",
                      exc, DETECT_PERMISSIONS) from None


def detect(cfg: "KitConfig", wanted: set[str], arm: Arm) -> dict[str, str]:
    """The kept resources that exist and carry this stack's tag (KitError for a name that is
    someone else's, or a vault waiting out its soft delete)."""
    ids = names.kept_ids(cfg.name, arm.subscription)
    found: dict[str, str] = {}
    for logical in names.ADOPTABLE:            # parents before their children
        _, api_version, parent = KEPT[logical]
        if logical not in wanted or (parent and parent not in found and parent in wanted):
            continue
        got = arm.get(ids[logical], api_version)
        if got is None:
            if logical == "vault":
                _deleted_vault(cfg, arm)
            if logical == "storage":
                _storage_name_free(cfg, arm)
            continue
        if not parent:                         # children carry no tags: their parent's count
            _require_tag(ids[logical], got.get("tags") or {}, cfg.name)
        found[logical] = ids[logical]
    return found


def _require_tag(where: str, tags: dict[str, str], name: str) -> None:
    value = tags.get(names.STACK_TAG)
    if value != name:
        found = f"tagged {names.STACK_TAG}={value}" if value else f"not tagged {names.STACK_TAG}"
        raise KitError(f"{where}: exists but is {found}, not {names.STACK_TAG}={name}",
                       hint="the kit never adopts or deletes what it did not create for this "
                            "stack: rename the deployment (name: in kit.yaml), or move that resource")


def _deleted_vault(cfg: "KitConfig", arm: Arm) -> None:
    vault = names.key_vault(cfg.name, arm.subscription)
    path = (f"/subscriptions/{arm.subscription}/providers/Microsoft.KeyVault/locations/"
            f"{cfg.region}/deletedVaults/{vault}")
    deleted = arm.get(path, "2023-07-01")
    if deleted is None:
        return
    props = deleted.get("properties") or {}
    if (props.get("tags") or {}).get(names.STACK_TAG) != cfg.name:
        raise KitError(f"key vault {vault}: the kit's vault name for {cfg.name} is held by a deleted "
                       "vault of another deployment", hint="rename the deployment (name: in kit.yaml)")
    raise KitError(f"key vault {vault}: deleted by `kit down --purge`, and purge protection keeps "
                   f"its name until {props.get('scheduledPurgeDate', 'its retention ends')}",
                   hint=f"recover it (the kept data it encrypted becomes readable again): az group "
                        f"create -n {names.kept_group(cfg.name)} -l {cfg.region} && az keyvault "
                        f"recover -n {vault}; or rename the deployment")


def _storage_name_free(cfg: "KitConfig", arm: Arm) -> None:
    account = names.storage_account(cfg.name, arm.subscription)
    answer = arm.request("POST", f"/subscriptions/{arm.subscription}/providers/Microsoft.Storage/"
                                 "checkNameAvailability", "2023-05-01",
                         {"name": account, "type": "Microsoft.Storage/storageAccounts"})
    if not answer.get("nameAvailable", True):
        raise KitError(f"storage account {account}: the kit's name for {cfg.name} is taken "
                       f"({answer.get('reason', 'AlreadyExists')}) outside its kept resource group",
                       hint="storage account names are global: rename the deployment (name: in kit.yaml)")


def purge(cfg: "KitConfig") -> list[str]:
    """`kit down --purge` of a stack whose state is empty: delete the kept group, checked as
    for adoption first (nothing is deleted if any name is someone else's)."""
    from stacks.azure.defaults import subscription

    return purge_with(cfg, connect(subscription(cfg)))


def _refuse_if_data_inside(cfg: "KitConfig", found: dict[str, str]) -> None:
    """The kept group's storage account goes with the group: never when data.uri is in it."""
    from kit.data.storage import parse_uri

    account = found.get("storage", "").rsplit("/", 1)[-1]
    data = parse_uri(cfg.data.uri)
    if account and data.account == account:
        raise KitError(f"az://{account}: holds this deployment's data (data.uri) and is the kit's "
                       "own storage account, which --purge deletes; nothing was deleted",
                       hint="move the data to a storage account of your own, then run "
                            "`kit down --purge` again")


def purge_with(cfg: "KitConfig", arm: Arm) -> list[str]:
    group = names.kept_group(cfg.name)
    ids = names.kept_ids(cfg.name, arm.subscription)
    try:
        found = detect(cfg, {"kept-group", "storage", "vault", "audit-logs"}, arm)
        if "kept-group" not in found:
            return []
        _refuse_if_data_inside(cfg, found)
        inside = arm.pages(f"{ids['kept-group']}/resources", "2021-04-01")
        foreign = [r["id"] for r in inside if (r.get("tags") or {}).get(names.STACK_TAG) != cfg.name]
        if foreign:
            raise KitError(f"resource group {group}: holds {foreign[0]} (and {len(foreign) - 1} more), "
                           f"not tagged {names.STACK_TAG}={cfg.name}; nothing was deleted",
                           hint="move what is yours out of the group, then run `kit down --purge` again")
        arm.request("DELETE", ids["kept-group"], "2021-04-01")
    except ArmError as exc:
        raise failure(f"deleting what an earlier `kit down` of {cfg.name} kept failed (run "
                      "`kit down --purge` again to delete what is left)", exc, PURGE_PERMISSIONS) from None
    lines = [f"deleting resource group {group} (Azure finishes in the background: az group show -n {group})"]
    for logical, what in (("storage", "storage account (every run and mirrored model in it)"),
                          ("audit-logs", "audit workspace (the audit trail; --purge)")):
        if logical in found:
            lines.append(f"  with the {what} {found[logical].rsplit('/', 1)[-1]}")
    if "vault" in found:
        lines.append(f"  with key vault {found['vault'].rsplit('/', 1)[-1]}: soft-deleted; purge "
                     "protection keeps it (and its name) for 90 days")
    return lines
