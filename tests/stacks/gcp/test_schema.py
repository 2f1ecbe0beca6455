"""Every input the GCP program gives a resource is an argument pulumi_gcp knows, nested dicts
included. The mocks echo whatever they get, so a misspelt key in a nested dict would pass the
invariant tests and fail only against the real provider: this walks each input against the
SDK's own TypedDicts."""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

import pytest

from tests.stacks.gcp.conftest import make_cfg, plan_of

DICT_REF = re.compile(r"ForwardRef\('(\w+ArgsDict)'\)")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _dict_type(annotation: Any, module: Any) -> Any:
    found = DICT_REF.findall(str(annotation))
    return getattr(module, found[0]) if found else None


def _problems(value: Any, typed: Any, module: Any, where: str) -> list[str]:
    if typed is None:
        return []
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _problems(item, typed, module, f"{where}[{i}]")]
    if not isinstance(value, dict):
        return []
    fields = typed.__annotations__
    out = []
    for key, item in value.items():
        name = _snake(key)
        if name not in fields:
            out.append(f"{where}.{key}: not an argument of {typed.__name__}")
            continue
        out += _problems(item, _dict_type(fields[name], module), module, f"{where}.{key}")
    return out


def _resource_problems(resource: dict[str, Any]) -> list[str]:
    _, path, cls = resource["type"].split(":")
    package = importlib.import_module(f"pulumi_gcp.{path.split('/')[0]}")
    inputs_module = importlib.import_module(f"{package.__name__}._inputs")
    kind = getattr(package, cls)
    params = inspect.signature(kind._internal_init).parameters
    out = []
    for key, value in resource["inputs"].items():
        name = _snake(key)
        if name not in params:
            out.append(f"{resource['name']}.{key}: not an argument of {cls}")
            continue
        out += _problems(value, _dict_type(params[name].annotation, inputs_module), inputs_module,
                         f"{resource['name']}.{key}")
    return out


@pytest.mark.parametrize("changes", [{}, {"network": {"egress": True, "operator_cidrs": ["203.0.113.0/24"]}},
                                     {"gpu": {"spot": True}}], ids=["default", "egress", "spot"])
def test_every_nested_input_is_an_argument_of_the_sdk(changes):
    plan = plan_of(make_cfg(**changes))
    resources = [r for r in plan.resources if r["type"].startswith("gcp:") and not r["read"]]
    assert len(resources) > 40
    assert [p for r in resources for p in _resource_problems(r)] == []


def test_the_walker_catches_a_misspelt_nested_key(default_plan):
    cluster = default_plan.one("gcp:container/cluster:Cluster")
    bad = {**cluster, "inputs": {**cluster["inputs"], "privateClusterConfig": {"enablePrivateNodez": True}}}
    assert _resource_problems(bad) == [
        "cluster.privateClusterConfig.enablePrivateNodez: not an argument of ClusterPrivateClusterConfigArgsDict"]
