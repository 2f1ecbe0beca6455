"""The kubernetes client, as the kit uses it: server-side apply, delete in order, watch objects,
stream pod logs, port-forward through the API server, and read what `kit status` shows.

`Kube` wraps two injected API objects, a `kubernetes.dynamic.DynamicClient` (every object as
a plain API-JSON dict) and a `CoreV1Api` (logs, port-forward); `connect()` builds them from a
kubeconfig. Tests inject fakes with the same methods, so the code here is the code that runs.
Following a Job or a roll-out to its end lives in kit.cluster.follow; the port-forward relay in
kit.cluster.portforward.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from kit.errors import KitError, require

if TYPE_CHECKING:
    from kit.config import KitConfig

FIELD_MANAGER = "lima-kit"
TIMEOUT = (5, 30)           # (connect, read) seconds for ordinary calls
WATCH_S = 60                # a watch is re-opened this often (the server may cut it sooner)

# What `kit down` deletes from a release, in order: load balancers first (their cloud side
# must go while the cluster and its controllers still exist), then the workloads.
SNAPSHOT_API = "snapshot.storage.k8s.io/v1"
DELETE_ORDER = [("v1", "Service"), ("apps/v1", "Deployment"), ("batch/v1", "Job"),
                ("autoscaling/v2", "HorizontalPodAutoscaler"), ("policy/v1", "PodDisruptionBudget"),
                ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount"),
                ("networking.k8s.io/v1", "NetworkPolicy"), (SNAPSHOT_API, "VolumeSnapshot"),
                ("v1", "PersistentVolumeClaim")]
# Waited for until gone: their controllers (Jobs, Deployments) or CSI driver (snapshots and
# volumes in the cloud) must finish before a stack destroy removes the cluster under them.
WAIT_GONE = [("batch/v1", "Job"), ("apps/v1", "Deployment"), (SNAPSHOT_API, "VolumeSnapshot"),
             ("v1", "PersistentVolumeClaim")]


def secret_object(namespace: str, name: str, kind: str, data: dict[str, str], *,
                  instance: str) -> dict[str, Any]:
    """A Secret the kit owns (labelled part-of lima-kit and with the release it serves)."""
    return {"apiVersion": "v1", "kind": "Secret", "type": kind,
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/part-of": "lima-kit",
                                    "app.kubernetes.io/instance": instance}},
            "stringData": data}


def saved_kubeconfig(cfg: "KitConfig") -> dict | None:
    """The kubeconfig `kit up` saved for a cluster it created (None: none yet, or not ours)."""
    path = cfg.workdir.kubeconfig
    return json.loads(path.read_text()) if path.exists() else None


def connect_deployment(cfg: "KitConfig") -> "Kube":
    """The deployment's cluster: the one its stack created (kubeconfig saved by `kit up`), or
    the existing cluster of kubernetes.context."""
    from stacks.clouds import cloud_support

    kubeconfig = saved_kubeconfig(cfg)
    if kubeconfig is None and cloud_support(cfg.target).creates_cluster:
        raise KitError(f"{cfg.name}: no kubeconfig for its cluster yet",
                       hint="`kit up` creates the cluster and saves one")
    return connect(kubeconfig=kubeconfig, context=None if kubeconfig else cfg.kubernetes.context,
                   namespace=cfg.kubernetes.namespace)


def connect(*, kubeconfig: dict | None = None, context: str | None = None,
            namespace: str) -> "Kube":
    """A Kube for a kubeconfig dict (a cloud stack's output) or the user's kubeconfig context."""
    require("kubernetes", "kubernetes")
    from kubernetes import client, config, dynamic

    try:
        if kubeconfig is not None:
            from kit.cluster.credential import with_own_exec

            api = config.new_client_from_config_dict(with_own_exec(kubeconfig), context=context)
        else:
            api = config.new_client_from_config(context=context)
    except (config.ConfigException, FileNotFoundError, TypeError) as exc:
        where = f"context {context!r}" if context else "the current context"
        raise KitError(f"kubeconfig: cannot use {where}: {' '.join(str(exc).split())}",
                       hint="check `kubectl config get-contexts` and kubernetes.context in kit.yaml"
                       ) from None
    try:
        dyn = dynamic.DynamicClient(api)
    except Exception as exc:  # discovery talks to the server: any failure means unreachable
        raise KitError(f"kubernetes: cannot reach the cluster API at {api.configuration.host}: "
                       f"{_reason(exc)}", hint="check the network path (VPN, operator_cidrs) and "
                       "`kubectl cluster-info`") from None
    return Kube(dyn, client.CoreV1Api(api), namespace)


REASONS = {"Connection refused": "connection refused", "timed out": "timed out",
           "Name or service not known": "the host name does not resolve",
           "nodename nor servname": "the host name does not resolve",
           "CERTIFICATE_VERIFY_FAILED": "its TLS certificate is not trusted",
           "401": "the credentials were refused (401)", "403": "access denied (403)"}


def _reason(exc: BaseException) -> str:
    """The useful part of a connection error (urllib3 wraps it in several layers)."""
    text = str(exc)
    return next((why for needle, why in REASONS.items() if needle in text), short_error(exc))


def short_error(exc: BaseException) -> str:
    """An exception as one line of at most 200 characters."""
    text = " ".join(str(exc).split())
    return (text[:200] + "…") if len(text) > 200 else text or type(exc).__name__


# Watch answers: these end a watch in one line; these are retried (BACKOFF_S, then give up).
FATAL = {401: "the credentials were refused (401)", 403: "access denied (403)",
         404: "no such resource (404)"}
RETRY = (429, 500, 502, 503, 504)
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0)
PERMISSIONS_HINT = ("refresh the credentials of the kubeconfig context; the permissions the kit "
                    "needs are in `kit render`'s operator-rbac.yaml (`kit doctor` checks them)")


def _transport_error(exc: BaseException) -> bool:
    """A dropped connection or a timeout on the way to the API server (urllib3's errors)."""
    import urllib3

    return isinstance(exc, (urllib3.exceptions.HTTPError, OSError))


def conflicts(exc: BaseException) -> str:
    """A server-side apply conflict (409 Status) as "fields owned by <manager>: ..." text."""
    try:
        body = json.loads(getattr(exc, "body", None) or "{}")
    except ValueError:
        body = {}
    causes = (body.get("details") or {}).get("causes") or []
    owners: dict[str, list[str]] = {}
    for cause in causes:
        found = re.search(r'conflict with "([^"]+)"', cause.get("message", ""))
        owners.setdefault(found.group(1) if found else "another field manager", []).append(
            cause.get("field", "?"))
    if not owners:
        return f"conflict: {body.get('message') or _reason(exc)}"
    return "; ".join(f"{', '.join(fields)} owned by field manager {owner!r}"
                     for owner, fields in owners.items())


def _not_found(exc: BaseException) -> bool:
    return getattr(exc, "status", None) == 404


class Kube:
    """One namespace of one cluster, through the injected dynamic and core API clients."""

    def __init__(self, dynamic: Any, core: Any, namespace: str) -> None:
        self.dyn = dynamic
        self.core = core
        self.namespace = namespace

    # --- objects -----------------------------------------------------------------------

    def _res(self, api_version: str, kind: str) -> Any:
        return self.dyn.resources.get(api_version=api_version, kind=kind)

    def serves(self, api_version: str, kind: str) -> bool:
        """Whether the cluster knows the kind (a CRD's, such as VolumeSnapshot, may be absent)."""
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            self._res(api_version, kind)
        except ResourceNotFoundError:
            return False
        return True

    def apply(self, objects: Iterable[dict[str, Any]]) -> list[str]:
        """Server-side apply, in the given (Helm install) order; returns kind/name of each.

        Not forced: a field another manager owns (a `kubectl edit`, a controller) is a conflict
        the operator hears about, with who owns what, rather than a change silently undone."""
        done = []
        for obj in objects:
            res = self._res(obj["apiVersion"], obj["kind"])
            meta = obj.get("metadata") or {}
            where = f"{obj['kind']}/{meta.get('name')}"
            try:
                self.dyn.server_side_apply(res, body=obj, namespace=meta.get("namespace") or self.namespace,
                                           field_manager=FIELD_MANAGER, force_conflicts=False,
                                           _request_timeout=TIMEOUT)
            except Exception as exc:
                if getattr(exc, "status", None) != 409:
                    raise
                raise KitError(f"kubernetes: {where}: {conflicts(exc)}",
                               hint=f"undo that change, or take the fields over: kubectl -n "
                                    f"{self.namespace} apply --server-side --force-conflicts "
                                    f"--field-manager {FIELD_MANAGER} (then run the command again)") from None
            done.append(where)
        return done

    def get(self, api_version: str, kind: str, name: str) -> dict[str, Any] | None:
        try:
            obj = self.dyn.get(self._res(api_version, kind), name=name, namespace=self.namespace,
                               _request_timeout=TIMEOUT)
        except Exception as exc:
            if _not_found(exc):
                return None
            raise
        return obj.to_dict()

    def list(self, api_version: str, kind: str, *, labels: str | None = None,
             namespaced: bool = True) -> list[dict[str, Any]]:
        got = self.dyn.get(self._res(api_version, kind), namespace=self.namespace if namespaced else None,
                           label_selector=labels, _request_timeout=TIMEOUT)
        return [item for item in got.to_dict().get("items") or []]

    def delete(self, api_version: str, kind: str, name: str, *, foreground: bool = False) -> bool:
        body = {"propagationPolicy": "Foreground" if foreground else "Background"}
        try:
            self.dyn.delete(self._res(api_version, kind), name=name, namespace=self.namespace,
                            body=body, _request_timeout=TIMEOUT)
        except Exception as exc:
            if _not_found(exc):
                return False
            raise
        return True

    def wait_gone(self, api_version: str, kind: str, name: str, timeout_s: float,
                  sleep: Callable[[float], None] = time.sleep) -> None:
        deadline = time.monotonic() + timeout_s
        while self.get(api_version, kind, name) is not None:
            if time.monotonic() > deadline:
                raise KitError(f"{kind}/{name} is still being deleted after {timeout_s:.0f}s",
                               hint=f"kubectl -n {self.namespace} describe {kind.lower()} {name} "
                                    "(a finalizer may be waiting on the cloud)")
            sleep(2.0)

    def delete_releases(self, instances: list[str], *, timeout_s: float = 900.0,
                        sleep: Callable[[float], None] = time.sleep) -> list[str]:
        """Delete every object of the given Helm instances: LoadBalancer Services first, waited
        for (their finalizer removes the cloud load balancer), then the rest in DELETE_ORDER."""
        selector = f"app.kubernetes.io/instance in ({','.join(instances)})"
        done: list[str] = []
        services = self.list("v1", "Service", labels=selector)
        balancers = [s for s in services if (s.get("spec") or {}).get("type") == "LoadBalancer"]
        for svc in balancers:
            name = svc["metadata"]["name"]
            self.delete("v1", "Service", name)
            self.wait_gone("v1", "Service", name, timeout_s, sleep)
            done.append(f"deleted load balancer Service/{name} (its cloud load balancer is gone)")
        kinds = [(api, kind) for api, kind in DELETE_ORDER if self.serves(api, kind)]
        for api_version, kind in kinds:
            for obj in self.list(api_version, kind, labels=selector):
                name = obj["metadata"]["name"]
                if self.delete(api_version, kind, name, foreground=kind in ("Job", "Deployment")):
                    done.append(f"deleted {kind}/{name}")
        for api_version, kind in WAIT_GONE:
            for obj in self.list(api_version, kind, labels=selector) if (api_version, kind) in kinds else []:
                self.wait_gone(api_version, kind, obj["metadata"]["name"], timeout_s, sleep)
        return done

    def suspend_job(self, name: str) -> None:
        """Stop a Job's pods but keep the Job (and its events) for inspection."""
        self.dyn.patch(self._res("batch/v1", "Job"), name=name, namespace=self.namespace,
                       body={"spec": {"suspend": True}},
                       content_type="application/merge-patch+json", _request_timeout=TIMEOUT)

    def ready_pod(self, labels: str) -> tuple[str, dict[str, Any]] | None:
        """A Ready pod among those with the labels: (name, pod)."""
        for pod in self.list("v1", "Pod", labels=labels):
            conds = {c.get("type"): c.get("status") for c in (pod.get("status") or {}).get("conditions") or []}
            if conds.get("Ready") == "True" and not pod["metadata"].get("deletionTimestamp"):
                return pod["metadata"]["name"], pod
        return None

    def nodes(self) -> dict[str, Any]:
        """Node and GPU counts, for `kit status`."""
        items = self.list("v1", "Node", namespaced=False)
        ready = gpus = gpu_nodes = most = 0
        for node in items:
            status = node.get("status") or {}
            if any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []):
                ready += 1
            count = int((status.get("allocatable") or {}).get("nvidia.com/gpu", 0) or 0)
            gpus += count
            gpu_nodes += 1 if count else 0
            most = max(most, count)
        return {"nodes": len(items), "ready": ready, "gpu_nodes": gpu_nodes, "gpus": gpus,
                "most_gpus": most}

    def denied(self, checks: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """Which of (what, resourceAttributes) the API server says this user may not do
        (SelfSubjectAccessReview: answered for the caller, needs no permission of its own)."""
        res = self._res("authorization.k8s.io/v1", "SelfSubjectAccessReview")
        out = []
        for what, attrs in checks:
            body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                    "spec": {"resourceAttributes": attrs}}
            answer = self.dyn.create(res, body=body, _request_timeout=TIMEOUT).to_dict()
            if not (answer.get("status") or {}).get("allowed"):
                out.append(what)
        return out

    def secret_data(self, name: str) -> dict[str, str] | None:
        secret = self.get("v1", "Secret", name)
        if secret is None:
            return None
        return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}

    # --- watching, logs, port-forward --------------------------------------------------

    def watch(self, api_version: str, kind: str, *, stop: threading.Event,
              labels: str | None = None, fields: str | None = None) -> Iterator[dict[str, Any]]:
        """Watch events ({"type", "object": API JSON}) until stop is set.

        The watch resumes from the last resourceVersion it saw (bookmarks included) when the
        server closes it or the connection drops; when that version has expired (410 Gone) it
        starts over without one, which makes the server send the current state again (a
        relist). Rate limits and server errors are retried with backoff, a bounded number of
        times; refused credentials or permissions end it in one line."""
        res = self._res(api_version, kind)
        version: str | None = None
        failures = 0
        while not stop.is_set():
            try:
                for event in self.dyn.watch(res, namespace=self.namespace, label_selector=labels,
                                            field_selector=fields, resource_version=version,
                                            timeout=WATCH_S, allow_watch_bookmarks=True):
                    if stop.is_set():
                        return
                    raw = event.get("raw_object") or event.get("object")
                    obj = raw if isinstance(raw, dict) else raw.to_dict()
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    failures = 0
                    if event.get("type") == "BOOKMARK":
                        continue
                    yield {"type": event.get("type"), "object": obj}
            except Exception as exc:  # the API's answer decides: relist, retry or stop
                status = getattr(exc, "status", None)
                if status == 410:
                    version = None
                    continue
                if status in FATAL:
                    raise KitError(f"kubernetes: watching {kind} in {self.namespace}: "
                                   f"{FATAL[status]} ({_reason(exc)})", hint=PERMISSIONS_HINT) from None
                if status not in RETRY and not _transport_error(exc):
                    raise
                failures += 1
                if failures > len(BACKOFF_S):
                    raise KitError(f"kubernetes: watching {kind} in {self.namespace}: the API "
                                   f"server kept failing ({_reason(exc)})",
                                   hint="check the cluster's health: kubectl get --raw /readyz") from None
                stop.wait(BACKOFF_S[failures - 1])

    def log_lines(self, pod: str, container: str, *, follow: bool,
                  tail: int | None = None) -> Iterator[str]:
        """A container's log, line by line (followed while the container runs)."""
        resp = self.core.read_namespaced_pod_log(
            name=pod, namespace=self.namespace, container=container, follow=follow,
            tail_lines=tail, _preload_content=False,
            _request_timeout=None if follow else TIMEOUT)
        buffer = b""
        for chunk in resp.stream(4096):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", "replace")
        if buffer:
            yield buffer.decode("utf-8", "replace")

    def port_forward(self, pod: str, port: int) -> tuple[str, Callable[[], None]]:
        """A local URL relayed to pod:port through the API server (kit.cluster.portforward)."""
        from kit.cluster.portforward import port_forward

        return port_forward(self.core, self.namespace, pod, port)
