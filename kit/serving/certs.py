"""The endpoint's certificates: a private CA per deployment and the server certificate it signs.

Why a CA of its own rather than one self-signed server certificate: clients trust the CA once
(`ca.crt`), and the kit can re-issue the server certificate (a new load-balancer name, nearing
expiry) without anyone changing what they trust. The CA signs server certificates only
(path length 0, no client auth) and its key never enters a pod.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

CA_DAYS = 3650
SERVER_DAYS = 397          # the longest a browser-grade server certificate may live
RENEW_BEFORE_DAYS = 30


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, both PEM text."""

    cert: str
    key: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _new_key():  # noqa: ANN202 (cryptography's key type, imported lazily)
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _pem(cert, key) -> KeyPair:  # noqa: ANN001
    from cryptography.hazmat.primitives import serialization

    return KeyPair(
        cert=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())


# Private address space an internal load balancer or a pod may have.
PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                    "127.0.0.0/8", "fc00::/7")


def new_ca(deployment: str, names: list[str]) -> KeyPair:
    """A CA for one deployment's endpoint: signs server certificates, nothing else, and only
    for `names` (and names under them) and private addresses: a critical name constraint, so a
    leaked key cannot impersonate any other site to a client trusting it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lima-kit"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"{deployment} endpoint CA")])
    now = _now()
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=CA_DAYS))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    builder = builder.add_extension(x509.NameConstraints(
        permitted_subtrees=[x509.DNSName(n) for n in names]
        + [x509.IPAddress(ipaddress.ip_network(n)) for n in PRIVATE_NETWORKS],
        excluded_subtrees=None), critical=True)
    return _pem(builder.sign(key, hashes.SHA256()), key)


def _san(host: str):  # noqa: ANN202
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def issue_server(ca: KeyPair, hosts: list[str]) -> KeyPair:
    """A server certificate for `hosts` (DNS names or IP addresses), signed by `ca`. The
    certificate file carries the chain (server, then CA), as nginx wants it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if not hosts:
        raise ValueError("a server certificate needs at least one host name")
    ca_cert = x509.load_pem_x509_certificate(ca.cert.encode())
    ca_key = serialization.load_pem_private_key(ca.key.encode(), password=None)
    key = _new_key()
    now = _now()
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0][:64])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
            .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pair = _pem(cert, key)
    return KeyPair(cert=pair.cert + ca.cert, key=pair.key)


def hosts_of(cert_pem: str) -> list[str]:
    """The names and addresses a certificate (the first in a PEM chain) is valid for."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*san.get_values_for_type(x509.DNSName),
            *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))]


def needs_new_server_cert(cert_pem: str | None, ca: KeyPair, hosts: list[str]) -> str | None:
    """Why the server certificate must be (re-)issued, or None when it is good: missing, signed
    by another CA, missing one of `hosts`, or within RENEW_BEFORE_DAYS of expiry."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    if not cert_pem:
        return "none yet"
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    ca_cert = x509.load_pem_x509_certificate(ca.cert.encode())
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return "signed by another CA"
    missing = sorted(set(hosts) - set(hosts_of(cert_pem)))
    if missing:
        return f"does not name {', '.join(missing)}"
    if cert.not_valid_after_utc - _now() < dt.timedelta(days=RENEW_BEFORE_DAYS):
        return f"expires {cert.not_valid_after_utc:%Y-%m-%d}"
    return None
