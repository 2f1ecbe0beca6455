"""Serving a fine-tune run on a cluster: its API keys and certificate, rolling the server
Deployment to the run, the URL clients use, a port-forwarded endpoint for `kit chat`, and the
smoke test.

Kept apart from the phases in kit.cluster.target because `kit up`, `kit serve --run` (also a
rollback), `kit chat` and `kit status` all need the server, each at a different moment.
"""

from __future__ import annotations

import secrets
from typing import Any, Callable

from rich.console import Console
from rich.markup import escape

from kit.cluster.endpoint_tls import EndpointTLS
from kit.cluster.jobwatch import JobWatch
from kit.cluster.kube import secret_object
from kit.cluster.model_stage import ModelStage
from kit.config import KitConfig
from kit.errors import KitError
from kit.layout.kube_names import SERVER, STAGE, api_keys_secret, release_name
from kit.pipeline import DeploymentState, Outcome
from kit.serving.client import Endpoint

ROLLOUT_TIMEOUT_S = 2700.0       # staging weights + the engine's 30-minute startup window


class Server:
    """The deployment's server (<name>-server): what it serves and where it answers."""

    def __init__(self, cfg: KitConfig, state: DeploymentState, kube: Callable[[], Any],
                 cluster: Callable[[], Any], console: Console) -> None:
        self.cfg = cfg
        self.state = state
        self.kube = kube
        self.cluster = cluster
        self.console = console
        self.name = release_name(cfg.name, SERVER)
        self.stage_name = release_name(cfg.name, STAGE)
        self.tls = EndpointTLS(cfg, kube, self.name, console)
        self.stage = ModelStage(cfg, kube, cluster, console)

    def api_keys(self) -> dict[str, str]:
        """The Secret of API keys the server's proxy reads: created once with a generated key."""
        kube, name = self.kube(), api_keys_secret(self.cfg.name)
        keys = kube.secret_data(name)
        if not keys:
            kube.apply([secret_object(kube.namespace, name, "Opaque",
                                      {"key-1": secrets.token_urlsafe(32)}, instance=self.name)])
            keys = kube.secret_data(name) or {}
        return keys

    def roll_out(self, run_id: str) -> Outcome:
        """Apply the server's objects for the run and wait until every replica serves it."""
        from kit.cluster.follow import wait_rollout
        from kit.render import render_objects

        kube = self.kube()
        self.api_keys()
        self.tls.ensure(self._lb_address())
        selector = f"app.kubernetes.io/instance={self.name}"
        current = kube.get("apps/v1", "Deployment", self.name)
        served = self.state.load().get("served_run")
        if current is not None and served == run_id and kube.ready_pod(selector):
            return Outcome(f"already serving {served}", skipped=True)
        if self.cluster().model_snapshot_class:
            self.stage.ensure(run_id)   # the model, restored per replica from a snapshot
        objects = render_objects(self.cfg, self.cluster(), run_id=run_id)["server"]
        kube.apply(objects)
        self.console.print(f"  rolling {self.name} to run {run_id} "
                           f"({self.cfg.serving.engine}, {self.cfg.serving.replicas} replica(s))")
        wait_rollout(kube, self.name, selector, JobWatch(self.name),
                     timeout_s=ROLLOUT_TIMEOUT_S,
                     on_note=lambda text: self.console.print(f"  {escape(text)}"))
        self.tls.ensure(self._lb_address())  # the load balancer may have got its name just now
        endpoint = self.service_url()
        ca_file = self.tls.ca_file
        self.state.update(served_run=run_id, endpoint=endpoint,
                          ca_file=str(ca_file) if ca_file else None)
        return Outcome(f"{self.cfg.serving.engine} serves run {run_id} at {endpoint}")

    def _service(self) -> dict[str, Any]:
        return self.kube().get("v1", "Service", self.name) or {}

    def _lb_address(self) -> str | None:
        """The internal load balancer's DNS name or address, once the cloud has assigned it."""
        ingress = ((self._service().get("status") or {}).get("loadBalancer") or {}).get("ingress")
        return (ingress[0].get("hostname") or ingress[0].get("ip")) if ingress else None

    def service_url(self) -> str:
        """Where clients inside the network reach the server (HTTPS only): the internal load
        balancer's address, else the Service's cluster DNS name."""
        port = next((p.get("port") for p in (self._service().get("spec") or {}).get("ports") or []),
                    443)
        host = self._lb_address() or self.tls.service_names()[0]
        return f"https://{host}" + ("" if port == 443 else f":{port}")

    def endpoint(self) -> Endpoint:
        """A local URL forwarded to a ready server pod through the API server, its key, and
        the CA and name its certificate is verified against."""
        kube = self.kube()
        found = kube.ready_pod(f"app.kubernetes.io/instance={self.name}")
        if found is None:
            raise KitError(f"{self.cfg.name}: no server pod is ready", hint="see `kit status`")
        name, pod = found
        port = next((p["containerPort"] for c in pod["spec"]["containers"]
                     for p in c.get("ports") or [] if p.get("name") == "https"), 8443)
        url, _close = kube.port_forward(name, port)  # lives as long as this process
        keys = self.api_keys()
        ca_pem, server_name = self.tls.trust()
        return Endpoint(url=url.replace("http://", "https://", 1),
                        api_key=next(iter(keys.values()), None), ca_pem=ca_pem,
                        server_name=server_name)

    def smoke(self) -> Outcome:
        """One chat round trip through the forwarded endpoint."""
        from kit.serving.smoke import smoke_test

        result = smoke_test(self.endpoint(), self.cfg.serving.smoke_prompt,
                            system=self.cfg.serving.system_prompt)
        return Outcome(f"HTTPS chat round trip through the API server in {result.latency_s:.1f}s: "
                       f"{result.shown}")

    def healthy(self) -> bool:
        """Whether a ready server pod answers its health check."""
        from kit.serving.client import is_healthy

        try:
            endpoint = self.endpoint()
        except KitError:
            return False
        return is_healthy(endpoint, timeout=5.0)
