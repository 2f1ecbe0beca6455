"""The endpoint's certificate on a cluster (kit.cluster.endpoint_tls): issued from the
deployment's CA, kept where the next `kit up` and other operators find it, re-issued only when
it must be, and the customer's own certificate used as given."""

from __future__ import annotations

import io
import stat

import pytest
from rich.console import Console

from kit.cluster.endpoint_tls import EndpointTLS
from kit.cluster.kube import Kube
from kit.errors import KitError
from kit.serving.certs import KeyPair, hosts_of, issue_server, needs_new_server_cert, new_ca
from tests.cluster.conftest import K8S, make
from tests.cluster.fakes import FakeCore, FakeDynamic

LB = "internal-acme-1234.elb.us-east-1.amazonaws.com"
NAMES = ["acme-notes-server.lima-kit.svc", "acme-notes-server", "acme-notes-server.lima-kit",
         "acme-notes-server.lima-kit.svc.cluster.local"]


@pytest.fixture
def cluster():
    dynamic = FakeDynamic()
    return dynamic, Kube(dynamic, FakeCore(), "lima-kit")


def keeper(cfg, kube) -> tuple[EndpointTLS, io.StringIO]:
    out = io.StringIO()
    return EndpointTLS(cfg, lambda: kube, "acme-notes-server",
                       Console(file=out, width=200)), out


def applied(dynamic, name: str) -> int:
    return sum(1 for call in dynamic.calls if call[:3] == ("apply", "Secret", name))


def test_first_up_creates_the_ca_and_a_certificate_for_the_service(tmp_path, cluster):
    dynamic, kube = cluster
    tls, out = keeper(make(K8S, tmp_path), kube)
    tls.ensure()
    folder = tmp_path / ".kit" / "acme-notes" / "endpoint-ca"
    assert stat.S_IMODE((folder / "ca.key").stat().st_mode) == 0o600
    ca = KeyPair((folder / "ca.crt").read_text(), (folder / "ca.key").read_text())
    served = kube.secret_data("acme-notes-server-tls")
    assert dynamic.objects[("Secret", "acme-notes-server-tls")]["type"] == "kubernetes.io/tls"
    assert needs_new_server_cert(served["tls.crt"], ca, NAMES) is None
    assert served["ca.crt"] == ca.cert and "ca.key" not in served    # the CA key never enters a pod
    assert kube.secret_data("acme-notes-endpoint-ca") == {"ca.crt": ca.cert, "ca.key": ca.key}
    assert "PRIVATE KEY" not in out.getvalue()
    assert tls.ca_file == folder / "ca.crt"


def test_a_good_certificate_is_kept_and_a_new_load_balancer_name_reissues_it(tmp_path, cluster):
    dynamic, kube = cluster
    tls, _ = keeper(make(K8S, tmp_path), kube)
    tls.ensure()
    first = kube.secret_data("acme-notes-server-tls")["tls.crt"]
    tls.ensure()
    assert applied(dynamic, "acme-notes-server-tls") == 1
    tls.ensure(LB)
    assert applied(dynamic, "acme-notes-server-tls") == 2
    renewed = kube.secret_data("acme-notes-server-tls")["tls.crt"]
    assert renewed != first and set(hosts_of(renewed)) == {*NAMES, LB}


def test_the_ca_survives_a_lost_workdir_and_a_lost_namespace(tmp_path, cluster):
    dynamic, kube = cluster
    cfg = make(K8S, tmp_path)
    tls, _ = keeper(cfg, kube)
    tls.ensure()
    ca_pem = (tls.folder / "ca.crt").read_text()
    for name in ("ca.crt", "ca.key"):               # another operator's machine
        (tls.folder / name).unlink()
    keeper(cfg, kube)[0].ensure()
    assert (tls.folder / "ca.crt").read_text() == ca_pem
    assert applied(dynamic, "acme-notes-server-tls") == 1      # still signed by the same CA
    fresh = FakeDynamic()                                       # namespace deleted by kit down
    keeper(cfg, Kube(fresh, FakeCore(), "lima-kit"))[0].ensure()
    assert Kube(fresh, FakeCore(), "lima-kit").secret_data("acme-notes-server-tls")["ca.crt"] == ca_pem


def test_a_certificate_of_another_ca_is_replaced(tmp_path, cluster):
    dynamic, kube = cluster
    tls, _ = keeper(make(K8S, tmp_path), kube)
    tls.ensure()
    foreign = issue_server(new_ca("other", NAMES), NAMES)
    kube.apply([{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                 "metadata": {"name": "acme-notes-server-tls", "namespace": "lima-kit"},
                 "stringData": {"tls.crt": foreign.cert, "tls.key": foreign.key}}])
    tls.ensure()
    ca = KeyPair((tls.folder / "ca.crt").read_text(), (tls.folder / "ca.key").read_text())
    assert needs_new_server_cert(kube.secret_data("acme-notes-server-tls")["tls.crt"], ca, NAMES) is None


def test_customer_certificate_is_used_as_given(tmp_path, cluster):
    dynamic, kube = cluster
    theirs_ca = new_ca("hospital", ["llm.hospital.internal"])
    (tmp_path / "hospital-ca.pem").write_text(theirs_ca.cert)
    cfg = make(K8S, tmp_path, serving={"tls_secret": "llm-tls", "tls_ca_file": "hospital-ca.pem"})
    tls, _ = keeper(cfg, kube)
    with pytest.raises(KitError, match=r"serving.tls_secret: Secret 'llm-tls' .* no tls.crt"):
        tls.ensure()
    pair = issue_server(theirs_ca, ["llm.hospital.internal"])
    kube.apply([{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                 "metadata": {"name": "llm-tls", "namespace": "lima-kit"},
                 "stringData": {"tls.crt": pair.cert, "tls.key": pair.key}}])
    tls.ensure()
    assert applied(dynamic, "llm-tls") == 1                   # only ours, above: never replaced
    assert not tls.folder.exists()                            # no CA of the kit's
    assert tls.trust() == (theirs_ca.cert, "llm.hospital.internal")
    assert tls.ca_file == tmp_path / "hospital-ca.pem"


def test_ca_file_without_a_secret_of_ones_own_is_refused(tmp_path):
    with pytest.raises(KitError, match="serving: .*tls_ca_file is for a certificate of yours"):
        make(K8S, tmp_path, serving={"tls_ca_file": "ca.pem"})


def test_server_certificate_is_short_lived_and_for_servers_only():
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca = new_ca("acme", ["a.svc"])
    cert = x509.load_pem_x509_certificate(issue_server(ca, ["a.svc", "10.0.0.7"]).cert.encode())
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 398
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ca_cert = x509.load_pem_x509_certificate(ca.cert.encode())
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert hosts_of(issue_server(ca, ["a.svc", "10.0.0.7"]).cert) == ["a.svc", "10.0.0.7"]


def test_a_certificate_near_expiry_is_renewed(monkeypatch):
    import kit.serving.certs as certs

    ca = new_ca("acme", NAMES)
    monkeypatch.setattr(certs, "SERVER_DAYS", 10)
    short = issue_server(ca, NAMES)
    assert needs_new_server_cert(short.cert, ca, NAMES).startswith("expires ")
    monkeypatch.setattr(certs, "SERVER_DAYS", 397)
    assert needs_new_server_cert(issue_server(ca, NAMES).cert, ca, NAMES) is None


def test_the_ca_can_vouch_for_the_deployments_names_only():
    """A name constraint: even with the CA's key, a certificate for another site fails
    verification in any client that trusts ca.crt."""
    from cryptography import x509
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    ca = new_ca("acme", [*NAMES, "elb.us-east-1.amazonaws.com"])
    store = Store([x509.load_pem_x509_certificate(ca.cert.encode())])

    def verify(host: str) -> None:
        leaf = x509.load_pem_x509_certificate(issue_server(ca, [host]).cert.encode())
        PolicyBuilder().store(store).build_server_verifier(x509.DNSName(host)).verify(leaf, [])

    verify(NAMES[0])
    verify(LB)                                   # the cloud's LB domain
    with pytest.raises(VerificationError):
        verify("bank.example.com")


def test_status_and_chat_never_make_a_ca(tmp_path, cluster):
    dynamic, kube = cluster
    tls, _ = keeper(make(K8S, tmp_path), kube)
    with pytest.raises(KitError, match="the endpoint has no CA yet"):
        tls.trust()
    assert dynamic.calls == [] and not tls.folder.exists()


def test_on_a_stacks_cluster_the_ca_is_constrained_to_the_deployments_names(tmp_path, cluster):
    from cryptography import x509

    from tests.cluster.conftest import AWS

    _, kube = cluster
    tls, _ = keeper(make(AWS, tmp_path), kube)
    tls.ensure()
    ca = x509.load_pem_x509_certificate((tls.folder / "ca.crt").read_bytes())
    constraint = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraint.critical
    dns = {n.value for n in constraint.value.permitted_subtrees if isinstance(n, x509.DNSName)}
    assert dns == {*NAMES, "elb.us-east-1.amazonaws.com"}


def test_on_an_existing_cluster_the_ca_is_constrained_to_the_services_names(tmp_path, cluster):
    """An existing cluster's endpoint is a ClusterIP Service: its cluster names and private
    addresses are all it can have, so a CA key read from the cluster cannot sign for any other
    site (issue 24: the CA there had no name constraints)."""
    import ipaddress

    from cryptography import x509

    _, kube = cluster
    tls, _ = keeper(make(K8S, tmp_path), kube)
    tls.ensure()
    ca = x509.load_pem_x509_certificate((tls.folder / "ca.crt").read_bytes())
    constraint = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraint.critical
    dns = {n.value for n in constraint.value.permitted_subtrees if isinstance(n, x509.DNSName)}
    assert dns == set(NAMES)
    ips = {n.value for n in constraint.value.permitted_subtrees if isinstance(n, x509.IPAddress)}
    assert ipaddress.ip_network("10.0.0.0/8") in ips
    assert ipaddress.ip_network("0.0.0.0/0") not in ips
