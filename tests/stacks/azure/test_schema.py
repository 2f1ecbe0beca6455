"""Every input the Azure program gives a resource is an argument pulumi_azure_native knows,
nested dicts included, under the name the provider expects (ARM's own spelling: enableAzureRBAC,
vnetSubnetID). The mocks echo whatever they get, so a misspelt key would pass the invariant
tests and fail only against Azure: this walks each input against the SDK's own input types."""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

import pytest
from pulumi._types import input_type_py_to_pulumi_names

from tests.stacks.azure.conftest import EXISTING_VNET, make_cfg, plan_of

ARGS_REF = re.compile(r"'(\w+Args)'")


def _args_class(annotation: Any, module: Any) -> Any:
    found = [name for name in ARGS_REF.findall(str(annotation)) if module and hasattr(module, name)]
    return getattr(module, found[0]) if found else None


def _nested(value: Any, annotation: Any, module: Any, where: str) -> list[str]:
    """A nested input: an Args type, or a map of them (keys are the caller's: ids, names)."""
    args = _args_class(annotation, module)
    if str(annotation).count("Mapping[str") and isinstance(value, dict):
        return [p for key, item in value.items() for p in _problems(item, args, module, f"{where}[{key}]")]
    return _problems(value, args, module, where)


def _problems(value: Any, args: Any, module: Any, where: str) -> list[str]:
    if args is None:
        return []
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _problems(item, args, module, f"{where}[{i}]")]
    if not isinstance(value, dict):
        return []
    names = {pulumi: py for py, pulumi in input_type_py_to_pulumi_names(args).items()}
    params = inspect.signature(args.__init__).parameters
    out = []
    for key, item in value.items():
        if key not in names:
            out.append(f"{where}.{key}: not an argument of {args.__name__}")
            continue
        out += _nested(item, params[names[key]].annotation, module, f"{where}.{key}")
    return out


def _resource_problems(resource: dict[str, Any]) -> list[str]:
    _, module_name, cls = resource["type"].split(":")
    package = importlib.import_module(f"pulumi_azure_native.{module_name}")
    module = importlib.import_module(getattr(package, cls).__module__)
    try:
        inputs_module = importlib.import_module(f"{package.__name__}._inputs")
    except ModuleNotFoundError:       # a module whose resources take no nested inputs
        inputs_module = None
    args = getattr(module, f"{cls}InitArgs", None) or getattr(module, f"{cls}Args")
    return _problems(resource["inputs"], args, inputs_module, resource["name"])


@pytest.mark.parametrize("changes", [
    {}, {"network": {"egress": True, "operator_cidrs": ["203.0.113.0/24"]}}, {"gpu": {"spot": True}},
    {"azure": EXISTING_VNET}], ids=["default", "egress", "spot", "existing-vnet"])
def test_every_nested_input_is_an_argument_of_the_sdk(changes):
    plan = plan_of(make_cfg(**changes))
    resources = [r for r in plan.resources if r["type"].startswith("azure-native:") and not r["read"]]
    assert len(resources) > 40
    assert [p for r in resources for p in _resource_problems(r)] == []


def test_the_walker_catches_a_misspelt_nested_key(default_plan):
    cluster = default_plan.one("azure-native:containerservice:ManagedCluster")
    api = {**cluster["inputs"]["apiServerAccessProfile"], "enablePrivateClusterPublicFqdn": False}
    bad = {**cluster, "inputs": {**cluster["inputs"], "apiServerAccessProfile": api}}
    assert _resource_problems(bad) == [
        "cluster.apiServerAccessProfile.enablePrivateClusterPublicFqdn: not an argument of "
        "ManagedClusterAPIServerAccessProfileArgs"]


def test_the_walker_reaches_lists_and_maps(default_plan):
    cluster = default_plan.one("azure-native:containerservice:ManagedCluster")
    pools = [{**cluster["inputs"]["agentPoolProfiles"][0], "enableNodePublicIp": False}]
    kubelet = {"kubeletidentity": {"resourceID": "x"}}
    bad = {**cluster, "inputs": {**cluster["inputs"], "agentPoolProfiles": pools, "identityProfile": kubelet}}
    assert sorted(_resource_problems(bad)) == [
        "cluster.agentPoolProfiles[0].enableNodePublicIp: not an argument of ManagedClusterAgentPoolProfileArgs",
        "cluster.identityProfile[kubeletidentity].resourceID: not an argument of UserAssignedIdentityArgs"]
