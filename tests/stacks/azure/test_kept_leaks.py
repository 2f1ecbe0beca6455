"""Adoption and purge of what a plain `kit down` kept on Azure, and the leak report, through
their public functions with a fake ARM: tag checks before anything is adopted or deleted, a
soft-deleted vault met with its recovery command, and the program importing what is adopted."""

from __future__ import annotations

import pytest

from kit.errors import KitError
from stacks.azure import kept, leaks, names
from tests.stacks.azure.conftest import SUB, make_cfg

IDS = names.kept_ids("acme-notes", SUB)
MINE = {names.STACK_TAG: "acme-notes"}


class FakeArm:
    """ARM as the kit uses it (get / request / pages / graph), from a table of resources."""

    subscription = SUB

    def __init__(self, resources: dict[str, dict] | None = None, lists: dict[str, list] | None = None,
                 rows: list[dict] | None = None, name_available: bool = True) -> None:
        self.resources = resources or {}
        self.lists = lists or {}
        self.rows = rows or []
        self.name_available = name_available
        self.calls: list[tuple[str, str]] = []

    def get(self, path: str, api_version: str):
        self.calls.append(("GET", path))
        return self.resources.get(path)

    def request(self, method: str, path: str, api_version: str, body=None):
        self.calls.append((method, path))
        if path.endswith("/checkNameAvailability"):
            return {"nameAvailable": self.name_available, "reason": "AlreadyExists"}
        assert method == "DELETE", (method, path)
        return {}

    def pages(self, path: str, api_version: str):
        self.calls.append(("LIST", path))
        return self.lists.get(path, [])

    def graph(self, query: str):
        self.calls.append(("GRAPH", query))
        return self.rows


def _all_kept(tags=MINE) -> dict[str, dict]:
    return {ident: {"id": ident, "tags": dict(tags)} for ident in IDS.values()}


def test_kept_resources_of_this_stack_are_adopted_by_their_arm_ids():
    arm = FakeArm(_all_kept())
    assert kept.find_adoptions(make_cfg(), {}, arm) == IDS
    assert set(IDS) == set(names.ADOPTABLE) and len(IDS) == 12
    assert IDS["storage"].endswith(f"/resourceGroups/lima-kit-acme-notes-kept/providers/Microsoft.Storage/"
                                   f"storageAccounts/{names.storage_account('acme-notes', SUB)}")


def test_what_the_state_holds_is_not_looked_up():
    deployment = {"resources": [{"urn": f"urn:pulumi:s::lima-kit::{t}::{n}", "type": t}
                                for n, (t, _, _) in kept.KEPT.items()]}
    arm = FakeArm(_all_kept())
    assert kept.find_adoptions(make_cfg(), deployment, arm) == {}
    assert arm.calls == []


def test_children_are_adopted_with_their_parent_only():
    resources = {i: r for i, r in _all_kept().items() if i not in (IDS["audit-logs"], IDS["storage"])}
    found = kept.find_adoptions(make_cfg(), {}, FakeArm(resources))
    assert set(found) == {"kept-group", "vault", "key", "encryption-identity", "encryption-key-user"}


def test_a_kept_name_tagged_for_another_stack_is_refused():
    resources = _all_kept()
    resources[IDS["vault"]]["tags"] = {names.STACK_TAG: "other"}
    with pytest.raises(KitError, match=r"exists but is tagged lima-kit:stack=other, not lima-kit:stack=acme-notes"):
        kept.find_adoptions(make_cfg(), {}, FakeArm(resources))


def test_a_vault_waiting_out_purge_protection_says_how_to_recover_it():
    resources = _all_kept()
    del resources[IDS["vault"]], resources[IDS["key"]]
    vault = names.key_vault("acme-notes", SUB)
    deleted = f"/subscriptions/{SUB}/providers/Microsoft.KeyVault/locations/eastus2/deletedVaults/{vault}"
    resources[deleted] = {"properties": {"tags": MINE, "scheduledPurgeDate": "2027-02-27T00:00:00Z"}}
    with pytest.raises(KitError) as err:
        kept.find_adoptions(make_cfg(), {}, FakeArm(resources))
    assert "purge protection keeps its name until 2027-02-27" in err.value.message
    assert f"az keyvault recover -n {vault}" in err.value.hint


def test_a_storage_name_taken_elsewhere_is_refused():
    resources = _all_kept()
    del resources[IDS["storage"]]
    with pytest.raises(KitError, match=r"storage account lk\w+: the kit's name for acme-notes is taken"):
        kept.find_adoptions(make_cfg(), {}, FakeArm(resources, name_available=False))


def test_purge_deletes_the_kept_group_only_when_everything_in_it_is_the_kits():
    inside = [{"id": IDS["storage"], "tags": MINE}, {"id": IDS["vault"], "tags": MINE}]
    arm = FakeArm(_all_kept(), lists={f"{IDS['kept-group']}/resources": inside})
    lines = kept.purge_with(make_cfg(), arm)
    assert ("DELETE", IDS["kept-group"]) in arm.calls
    assert lines[0].startswith("deleting resource group lima-kit-acme-notes-kept")
    assert any("purge protection keeps it" in line for line in lines)


def test_purge_refuses_a_kept_group_holding_something_else():
    inside = [{"id": IDS["storage"], "tags": MINE}, {"id": "/subscriptions/x/vm-of-yours", "tags": {}}]
    arm = FakeArm(_all_kept(), lists={f"{IDS['kept-group']}/resources": inside})
    with pytest.raises(KitError, match=r"holds /subscriptions/x/vm-of-yours .* nothing was deleted"):
        kept.purge_with(make_cfg(), arm)
    assert not [c for c in arm.calls if c[0] == "DELETE"]


def test_purge_refuses_when_the_data_lives_in_the_kept_storage_account():
    """A plain `kit down` keeps the storage account; the data may have been put in another
    container of it. Deleting the kept group deletes the account and every container in it."""
    account = names.storage_account("acme-notes", SUB)
    inside = [{"id": IDS["storage"], "tags": MINE}]
    arm = FakeArm(_all_kept(), lists={f"{IDS['kept-group']}/resources": inside})
    cfg = make_cfg(data={"uri": f"az://{account}/customer-data/sft/"})
    with pytest.raises(KitError, match=rf"az://{account}: holds this deployment's data .* nothing was deleted"):
        kept.purge_with(cfg, arm)
    assert not [c for c in arm.calls if c[0] == "DELETE"]


def test_purge_with_nothing_kept_deletes_nothing():
    arm = FakeArm({})
    assert kept.purge_with(make_cfg(), arm) == []
    assert not [c for c in arm.calls if c[0] == "DELETE"]


def test_adopt_ids_are_imported_by_the_program():
    from kit.infra.plan import run_plan
    from stacks.azure.mocks import AzureMocks

    class ImportMocks(AzureMocks):
        def __init__(self):
            super().__init__(subscription=SUB)
            self.imports: dict[str, str] = {}

        def new_resource(self, args):
            self.imports[args.name] = args.resource_id or ""
            return super().new_resource(args)

    mocks = ImportMocks()
    plan = run_plan(make_cfg(), mocks, adopt=IDS)
    imported = {name: ident for name, ident in mocks.imports.items() if ident and name != "data"}
    assert imported == IDS
    assert plan.one("azure-native:storage:StorageAccount", "storage")["retain_on_delete"] is True
    with pytest.raises(KitError, match="no adoptable resource named 'registry'"):
        run_plan(make_cfg(), AzureMocks(subscription=SUB), adopt={"registry": "x"})


def _rows():
    kept_group = names.kept_group("acme-notes")
    lb = (f"/subscriptions/{SUB}/resourceGroups/lima-kit-acme-notes-nodes/providers/Microsoft.Network/"
          "loadBalancers/kubernetes-internal")
    return [{"id": IDS["storage"], "type": "microsoft.storage/storageaccounts", "resourceGroup": kept_group},
            {"id": IDS["kept-group"], "type": "microsoft.resources/subscriptions/resourcegroups",
             "resourceGroup": kept_group},
            {"id": lb, "type": "microsoft.network/loadbalancers", "resourceGroup": "lima-kit-acme-notes-nodes"}]


def test_leak_report_lists_kept_and_left_resources_with_their_fix():
    arm = FakeArm(rows=_rows())
    lines = leaks.leak_report(arm, "acme-notes")
    assert [line.split(":", 1)[0] for line in lines[:2]] == ["kept (runs, mirrored weights, their key and the "
                                                             "audit trail; `kit down --purge` deletes it)"] * 2
    assert "still exists[/]: /subscriptions/" in lines[2] and "az resource delete --ids" in lines[2]
    assert "Resource Graph lags deletions" in lines[3]
    (query,) = [c[1] for c in arm.calls if c[0] == "GRAPH"]
    assert "tags['lima-kit:stack'] == 'acme-notes'" in query and "'lima-kit-acme-notes-nodes'" in query


def test_after_a_purge_nothing_is_kept_by_design():
    lines = leaks.leak_report(FakeArm(rows=_rows()), "acme-notes", keep=False)
    assert sum("still exists" in line for line in lines) == 3
    assert any("az group delete -n lima-kit-acme-notes-kept" in line for line in lines)
    assert leaks.leak_report(FakeArm(rows=[]), "acme-notes") == ["nothing tagged lima-kit:stack=acme-notes is left"]
