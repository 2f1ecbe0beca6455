"""The server's HTTPS certificate on a cluster: issued from the deployment's CA, or the customer's.

The CA lives in two places, both private: the kit's state (`.kit/<name>/endpoint-ca/`, 0600),
which survives `kit down` so clients that trust `ca.crt` keep working after the next `kit up`,
and a Secret no pod mounts (<name>-endpoint-ca), so an operator on another machine issues
from the same CA. Neither key is ever printed. The server certificate (a kubernetes.io/tls
Secret the proxy mounts) names the Service's cluster names and, once known, the internal load
balancer's address; the proxy reloads it without a restart when it is re-issued.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from rich.console import Console

from kit.cluster.kube import secret_object
from kit.config import KitConfig
from kit.errors import KitError
from kit.layout.kube_names import endpoint_ca_secret, tls_secret
from kit.serving.certs import KeyPair, hosts_of, issue_server, needs_new_server_cert, new_ca
from kit.workdir import write_private


class EndpointTLS:
    """What the server presents and what the kit's clients trust."""

    def __init__(self, cfg: KitConfig, kube: Callable[[], Any], server: str,
                 console: Console) -> None:
        self.cfg = cfg
        self.kube = kube
        self.server = server
        self.console = console
        self.folder: Path = cfg.workdir.endpoint_ca
        self.secret_name = tls_secret(cfg.name, cfg.serving.tls_secret)

    @property
    def ca_file(self) -> Path | None:
        """The CA bundle clients outside the kit trust: the kit's ca.crt, or serving.tls_ca_file."""
        if self.cfg.serving.tls_secret:
            ca = self.cfg.serving.tls_ca_file
            return (self.cfg.base_dir / ca).resolve() if ca else None
        return self.folder / "ca.crt"

    def service_names(self) -> list[str]:
        namespace = self.kube().namespace
        return [f"{self.server}.{namespace}.svc", self.server, f"{self.server}.{namespace}",
                f"{self.server}.{namespace}.svc.cluster.local"]

    def ensure(self, address: str | None = None) -> None:
        """The server's TLS Secret exists and names the Service (and `address`, the load
        balancer's, when given); issued or re-issued from the CA when it does not."""
        kube, name = self.kube(), self.secret_name
        current = kube.secret_data(name) or {}
        if self.cfg.serving.tls_secret:
            if not current.get("tls.crt") or not current.get("tls.key"):
                raise KitError(f"serving.tls_secret: Secret {name!r} in namespace "
                               f"{kube.namespace!r} has no tls.crt and tls.key",
                               hint=f"kubectl -n {kube.namespace} create secret tls {name} "
                                    "--cert=server.crt --key=server.key")
            return
        ca = self._ca()
        hosts = self.service_names() + ([address] if address else [])
        why = needs_new_server_cert(current.get("tls.crt"), ca, hosts)
        if why is None:
            return
        pair = issue_server(ca, hosts)
        kube.apply([secret_object(kube.namespace, name, "kubernetes.io/tls",
                                  {"tls.crt": pair.cert, "tls.key": pair.key, "ca.crt": ca.cert},
                                  instance=self.server)])
        self.console.print(f"  server certificate issued ({why}): valid for {', '.join(hosts)}")

    def trust(self) -> tuple[str | None, str]:
        """(CA PEM to trust, name to verify) for the kit's own calls through a port-forward."""
        if not self.cfg.serving.tls_secret:   # read only: `kit status` and `kit chat` never make one
            return self._ca(create=False).cert, self.service_names()[0]
        ca_file = self.ca_file
        try:
            ca_pem = ca_file.read_text() if ca_file else None
        except OSError as exc:
            raise KitError(f"serving.tls_ca_file: cannot read {ca_file}: {exc.strerror}") from None
        cert = (self.kube().secret_data(self.secret_name) or {}).get("tls.crt")
        names = hosts_of(cert) if cert else []
        if not names:
            raise KitError(f"serving.tls_secret: the certificate in {self.secret_name!r} "
                           "names no host (subjectAltName)", hint="issue it for the endpoint's "
                           "DNS name")
        return ca_pem, names[0]

    def _ca(self, *, create: bool = True) -> KeyPair:
        """The deployment's CA: from the kit's state, else the cluster's copy, else a new one;
        afterwards in both."""
        crt, key = self.folder / "ca.crt", self.folder / "ca.key"
        ca = KeyPair(crt.read_text(), key.read_text()) if crt.is_file() and key.is_file() else None
        kube, name = self.kube(), endpoint_ca_secret(self.cfg.name)
        stored = kube.secret_data(name) or {}
        if ca is None and stored.get("ca.crt") and stored.get("ca.key"):
            ca = KeyPair(stored["ca.crt"], stored["ca.key"])
        if ca is None:
            if not create:
                raise KitError(f"{self.cfg.name}: the endpoint has no CA yet",
                               hint="`kit up` creates it with the server")
            from stacks.clouds import cloud_support

            # The kit knows every name the endpoint can have: the Service's cluster names, the
            # cloud's internal load balancer domain where there is one, private addresses. The
            # CA is constrained to them on every target, so its key (stored in the cluster)
            # cannot vouch for any other site; an existing cluster's endpoint is a ClusterIP
            # Service (the charts make no load balancer without the cloud's annotations).
            support = cloud_support(self.cfg.target)
            domain = support.internal_lb_domain.format(region=self.cfg.region or "")
            ca = new_ca(self.cfg.name, self.service_names() + ([domain] if domain else []))
            self.console.print(f"  endpoint CA created: clients trust {crt}")
        if not (crt.is_file() and key.is_file()):
            write_private(key, ca.key)
            write_private(crt, ca.cert)
        if create and stored.get("ca.crt") != ca.cert:
            kube.apply([secret_object(kube.namespace, name, "Opaque",
                                      {"ca.crt": ca.cert, "ca.key": ca.key}, instance=self.server)])
        return ca
