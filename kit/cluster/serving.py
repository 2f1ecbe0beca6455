"""Serving a fine-tune run on a cluster: its API keys, rolling the server Deployment to the run,
the URL clients use, a port-forwarded endpoint for `kit chat`, and the smoke test.

Kept apart from the phases in kit.cluster.target because `kit up`, `kit serve --run` (also a
rollback), `kit chat` and `kit status` all need the server, each at a different moment.
"""

from __future__ import annotations

import secrets
from typing import Any, Callable

from rich.console import Console
from rich.markup import escape

from kit.cluster.jobwatch import JobWatch
from kit.config import KitConfig
from kit.errors import KitError
from kit.pipeline import DeploymentState, Outcome

ROLLOUT_TIMEOUT_S = 2700.0       # staging weights + the engine's 30-minute startup window
PART_OF = "app.kubernetes.io/part-of"


class Server:
    """The deployment's server (<name>-server): what it serves and where it answers."""

    def __init__(self, cfg: KitConfig, state: DeploymentState, kube: Callable[[], Any],
                 cluster: Callable[[], Any], console: Console) -> None:
        self.cfg = cfg
        self.state = state
        self.kube = kube
        self.cluster = cluster
        self.console = console
        self.name = f"{cfg.name}-server"

    def api_keys(self) -> dict[str, str]:
        """The Secret of API keys the server's proxy reads: created once with a generated key."""
        from kit.render.values import api_keys_secret

        kube, name = self.kube(), api_keys_secret(self.cfg)
        keys = kube.secret_data(name)
        if not keys:
            kube.apply([{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                         "metadata": {"name": name, "namespace": kube.namespace,
                                      "labels": {PART_OF: "lima-kit",
                                                 "app.kubernetes.io/instance": self.name}},
                         "stringData": {"key-1": secrets.token_urlsafe(32)}}])
            keys = kube.secret_data(name) or {}
        return keys

    def roll_out(self, run_id: str) -> Outcome:
        """Apply the server's objects for the run and wait until every replica serves it."""
        from kit.cluster.follow import wait_rollout
        from kit.render import render_objects

        kube = self.kube()
        self.api_keys()
        selector = f"app.kubernetes.io/instance={self.name}"
        current = kube.get("apps/v1", "Deployment", self.name)
        served = self.state.load().get("served_run")
        if current is not None and served == run_id and kube.ready_pod(selector):
            return Outcome(f"already serving {served}", skipped=True)
        objects = render_objects(self.cfg, self.cluster(), run_id=run_id)["server"]
        kube.apply(objects)
        self.console.print(f"  rolling {self.name} to run {run_id} "
                           f"({self.cfg.serving.engine}, {self.cfg.serving.replicas} replica(s))")
        wait_rollout(kube, self.name, selector, JobWatch(self.name),
                     timeout_s=ROLLOUT_TIMEOUT_S,
                     on_note=lambda text: self.console.print(f"  {escape(text)}"))
        endpoint = self.service_url()
        self.state.update(served_run=run_id, endpoint=endpoint)
        return Outcome(f"{self.cfg.serving.engine} serves run {run_id} at {endpoint}")

    def service_url(self) -> str:
        """Where clients inside the network reach the server: the internal load balancer's
        address, else the Service's cluster DNS name."""
        svc = self.kube().get("v1", "Service", self.name) or {}
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        port = next((p.get("port") for p in (svc.get("spec") or {}).get("ports") or []), 80)
        host = (ingress[0].get("hostname") or ingress[0].get("ip")) if ingress else \
            f"{self.name}.{self.kube().namespace}.svc.cluster.local"
        return f"http://{host}" + ("" if port == 80 else f":{port}")

    def endpoint(self) -> tuple[str, str | None]:
        """A local URL forwarded to a ready server pod through the API server, and a key."""
        kube = self.kube()
        found = kube.ready_pod(f"app.kubernetes.io/instance={self.name}")
        if found is None:
            raise KitError(f"{self.cfg.name}: no server pod is ready", hint="see `kit status`")
        name, pod = found
        port = next((p["containerPort"] for c in pod["spec"]["containers"]
                     for p in c.get("ports") or [] if p.get("name") == "http"), 8080)
        url, _close = kube.port_forward(name, port)  # lives as long as this process
        keys = self.api_keys()
        return url, next(iter(keys.values()), None)

    def smoke(self) -> Outcome:
        """One chat round trip through the forwarded endpoint."""
        from kit.serving.smoke import smoke_test

        url, key = self.endpoint()
        result = smoke_test(url, self.cfg.serving.smoke_prompt, api_key=key,
                            system=self.cfg.serving.system_prompt)
        reply = " ".join(result.reply.split())
        shown = (reply[:70] + "…") if len(reply) > 70 else reply
        return Outcome(f"chat round trip through the API server in {result.latency_s:.1f}s: {shown!r}"
                       if reply else "chat round trip ok [yellow](empty reply)[/]")

    def healthy(self) -> bool:
        """Whether a ready server pod answers its health check."""
        from kit.serving.client import is_healthy

        try:
            url, _key = self.endpoint()
        except KitError:
            return False
        return is_healthy(url, timeout=5.0)
