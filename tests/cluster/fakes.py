"""Fakes with the shapes of the real seams: kubernetes' DynamicClient and CoreV1Api, a Pulumi
Automation API stack, and a Kube that replays a fixture."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from types import SimpleNamespace

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


class ApiError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class Instance:
    def __init__(self, data: dict) -> None:
        self.data = data

    def to_dict(self) -> dict:
        return json.loads(json.dumps(self.data))


def matches(obj: dict, selector: str | None) -> bool:
    if not selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    m = re.match(r"^([\w./-]+) in \(([^)]*)\)$", selector)
    if m:
        return labels.get(m.group(1)) in m.group(2).split(",")
    key, _, value = selector.partition("=")
    return labels.get(key) == value


class FakeDynamic:
    """Objects by (kind, name); every mutating call recorded in `calls`, in order.
    A LoadBalancer Service lingers for `lb_linger` reads after its delete (its finalizer)."""

    def __init__(self, objects: list[dict] | None = None, *, lb_linger: int = 2,
                 streams: dict[str, list[dict]] | None = None) -> None:
        self.objects = {(o["kind"], o["metadata"]["name"]): o for o in objects or []}
        self.calls: list[tuple] = []
        self.lb_linger = lb_linger
        self.deleting: dict[tuple, int] = {}
        self.streams = {k: list(v) for k, v in (streams or {}).items()}
        self.resources = self

    def get(self, res=None, name=None, namespace=None, label_selector=None, api_version=None,
            kind=None, **_kw):
        if api_version is not None:          # resources.get(api_version=, kind=)
            return SimpleNamespace(api_version=api_version, kind=kind)
        if name is not None:
            key = (res.kind, name)
            if key in self.deleting:
                self.deleting[key] -= 1
                if self.deleting[key] <= 0:
                    self.deleting.pop(key)
                    self.objects.pop(key, None)
            if key not in self.objects:
                raise ApiError(404)
            return Instance(self.objects[key])
        items = [o for (k, _), o in self.objects.items() if k == res.kind and matches(o, label_selector)]
        return Instance({"items": items})

    def server_side_apply(self, res, body=None, namespace=None, field_manager=None,
                          force_conflicts=None, **_kw):
        self.calls.append(("apply", res.kind, body["metadata"]["name"], field_manager, force_conflicts))
        if res.kind == "Secret" and "stringData" in body:   # stored as data, as the server does
            plain = body["stringData"]
            body = {k: v for k, v in body.items() if k != "stringData"}
            body["data"] = {**(body.get("data") or {}),
                            **{k: base64.b64encode(v.encode()).decode() for k, v in plain.items()}}
        self.objects[(res.kind, body["metadata"]["name"])] = body

    def delete(self, res, name=None, namespace=None, body=None, **_kw):
        key = (res.kind, name)
        if key not in self.objects:
            raise ApiError(404)
        self.calls.append(("delete", res.kind, name, (body or {}).get("propagationPolicy")))
        if res.kind == "Service" and self.objects[key].get("spec", {}).get("type") == "LoadBalancer":
            self.deleting[key] = self.lb_linger
        else:
            self.objects.pop(key)

    def patch(self, res, name=None, namespace=None, body=None, **_kw):
        self.calls.append(("patch", res.kind, name, body))

    def watch(self, res, namespace=None, label_selector=None, field_selector=None, timeout=None,
              **_kw):
        items = self.streams.pop(res.kind, None)
        if items is None:
            time.sleep(0.05)
            return
        for item in items:
            yield {"type": item["type"], "raw_object": item["object"]}


class FakeCore:
    def __init__(self, logs: list[str] | None = None) -> None:
        self.logs = logs or []

    def read_namespaced_pod_log(self, name, namespace, container=None, follow=False,
                                tail_lines=None, **_kw):
        lines = self.logs[-tail_lines:] if tail_lines else self.logs
        data = "".join(line + "\n" for line in lines).encode()
        return SimpleNamespace(stream=lambda n: (data[i:i + n] for i in range(0, len(data), n)))

    def get_api_resources(self, **_kw):
        return {}


def kube_for(name: str, extra: list[dict] | None = None, until: float | None = None):
    """A Kube over a fixture (up to second `until`): its watch streams by kind, its pods' and
    events' final states listed."""
    from kit.cluster.kube import Kube

    fx = fixture(name)
    if until is not None:
        fx["stream"] = [item for item in fx["stream"] if item["at"] <= until]
    streams: dict[str, list[dict]] = {}
    final: dict[tuple, dict] = {}
    for item in fx["stream"]:
        obj = item["object"]
        streams.setdefault(obj["kind"], []).append(item)
        if item["type"] == "DELETED":
            final.pop((obj["kind"], obj["metadata"]["name"]), None)
        else:
            final[(obj["kind"], obj["metadata"]["name"])] = obj
    objects = [o for (k, _), o in final.items() if k in ("Pod", "Event")] + (extra or [])
    return Kube(FakeDynamic(objects, streams=streams), FakeCore(fx["logs"]), "lima-kit"), fx


# --- a Pulumi stack ------------------------------------------------------------------------

def engine_event(op: str, typ: str, name: str):
    from pulumi.automation import events

    meta = events.StepEventMetadata.from_json({"op": op, "urn": f"urn:pulumi:s::lima-kit::{typ}::{name}",
                                               "type": typ, "provider": ""})
    return events.EngineEvent(sequence=1, timestamp=0,
                              res_outputs_event=events.ResOutputsEvent(metadata=meta))


LIVE = [{"type": "aws:eks/cluster:Cluster",
         "urn": "urn:pulumi:acme-notes::lima-kit::aws:eks/cluster:Cluster::cluster"}]


class FakeStack:
    """A deployed stack (its state holds a cluster) unless `resources` says otherwise."""

    def __init__(self, log: list, *, pending: list | None = None, outputs: dict | None = None,
                 fail: Exception | None = None, resources: list | None = None) -> None:
        self.log = log
        self.pending = pending or []
        self.resources = LIVE if resources is None else resources
        self._outputs = outputs or {"cloud": "aws", "cluster_name": "acme-notes"}
        self.fail = fail
        self.config: dict = {}
        self.workspace = SimpleNamespace(remove_stack=lambda name: log.append(("remove_stack", name)))

    def set_all_config(self, values):
        self.config = {k: v.value for k, v in values.items()}
        self.log.append(("config", self.config.get("lima-kit:purge")))

    def export_stack(self):
        return SimpleNamespace(deployment={"pending_operations": self.pending,
                                           "resources": self.resources})

    def refresh(self, clear_pending_creates=None, on_event=None):
        self.log.append(("refresh", clear_pending_creates))
        self.pending = []

    def _result(self, changes):
        outs = {k: SimpleNamespace(value=v, secret=k == "kubeconfig") for k, v in self._outputs.items()}
        return SimpleNamespace(summary=SimpleNamespace(resource_changes=changes), outputs=outs,
                               change_summary=changes)

    def up(self, on_event=None, **_kw):
        self.log.append(("up", self.config.get("lima-kit:purge")))
        if self.fail:
            raise self.fail
        on_event(engine_event("create", "aws:eks/cluster:Cluster", "cluster"))
        on_event(engine_event("same", "aws:ec2/vpc:Vpc", "vpc"))
        return self._result({"create": 1, "same": 40})

    def preview(self, on_output=None, on_event=None, **_kw):
        self.log.append(("preview",))
        return self._result({"create": 41})

    def destroy(self, on_event=None, **_kw):
        self.log.append(("destroy", self.config.get("lima-kit:purge")))
        return self._result({"delete": 41})

    def outputs(self):
        return self._result({}).outputs


def fake_access(cfg, stack, *, which: str | None = "/usr/bin/pulumi", confirm: bool = False,
                adopt=None, purge_kept=None, opened: list | None = None):
    """The driver's StackAccess over a fake stack: the target's real CloudSupport, with its
    adoption and purge of kept resources replaced (by default: nothing kept, no cloud call)."""
    from dataclasses import replace

    from kit.infra.driver import StackAccess
    from stacks.clouds import cloud_support

    def open_stack(_cfg, _env):
        if opened is not None:
            opened.append(1)
        return stack

    support = replace(cloud_support(cfg.target), adopt=adopt or (lambda _c, _d: {}),
                      purge_kept=purge_kept or (lambda _c: []))
    return StackAccess(open=open_stack, which=lambda _n: which, confirm=lambda _q: confirm,
                       support=support)


def fake_deps(cfg, *, connect=None, infra=None, checks=None, storage=None, leak_report=None,
              publish=None, registry_login=None, copy=None):
    """A ClusterDeps for tests: the target's real CloudSupport (its leak report replaced when
    given), and whatever fakes the test passes; anything it does not pass fails if used."""
    from dataclasses import replace

    from kit.cluster.deps import ClusterDeps
    from kit.data.storage import open_store
    from stacks.clouds import cloud_support

    def unused(what):
        def fail(*_a, **_kw):
            raise AssertionError(f"the test did not expect {what} to be used")
        return fail

    support = cloud_support(cfg.target)
    if leak_report is not None:
        support = replace(support, leak_report=leak_report)
    if registry_login is not None:
        support = replace(support, registry_login=registry_login)
    return ClusterDeps(support=support, infra=infra or unused("the Pulumi stack"),
                       connect=connect or unused("the cluster API"),
                       checks=checks or unused("the preflight checks"),
                       storage=storage or open_store,
                       publish=publish or unused("building and pushing images"),
                       copy=copy or unused("copying an upstream image"))
