"""A generated test PKI that mirrors IGC-Santé test naming.

TEST AC RACINE IGC-SANTE FORT ──► TEST AC IGC-SANTE FORT PERSONNES ──► card certificates
TEST AC RACINE IGC-SANTE ELEMENTAIRE ──► TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS ──► structure
certificates (ORG AUTH_CLI, ORG SIGN) and the sandbox host's server certificate.
Keys and certificates are made with ``cryptography``; nothing here is a real IGC-Santé object.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sandbox.cards import CardProfile

SMARTCARD_LOGON = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.2")
TEST_OU = "IGC-SANTE TEST"
TEST_O = "ASIP-SANTE"
KEY_BITS = 2048
STRUCTURE_P12_PASSWORD = b"sandbox"


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_O),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, TEST_OU),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key (None when the key lives on a token)."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey | None

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _builder(
    subject: x509.Name, issuer: Issued | None, public_key: rsa.RSAPublicKey, years: int
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    return builder


def _sign(builder: x509.CertificateBuilder, signer: rsa.RSAPrivateKey) -> x509.Certificate:
    return builder.sign(signer, hashes.SHA256())


def make_ca(cn: str, issuer: Issued | None = None) -> Issued:
    key = new_key()
    builder = _builder(_name(cn), issuer, key.public_key(), 20)
    builder = builder.add_extension(
        x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0), True
    )
    builder = builder.add_extension(
        x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
    )
    signer = issuer.key if issuer and issuer.key else key
    return Issued(_sign(builder, signer), key)


def _leaf(
    subject: x509.Name,
    issuer: Issued,
    public_key: rsa.RSAPublicKey,
    *,
    signature: bool,
    eku: list[x509.ObjectIdentifier],
    san: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    builder = _builder(subject, issuer, public_key, 3)
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
    # Authentication: digitalSignature (+ keyEncipherment); signature: nonRepudiation only.
    usage = x509.KeyUsage(not signature, signature, not signature, False, False, False, False, False, False)
    builder = builder.add_extension(usage, critical=True)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    assert issuer.key is not None
    return _sign(builder, issuer.key)


def card_subject(national_id: str, surname: str, given_name: str, profession_label: str) -> x509.Name:
    """CPS subject: one multi-valued RDN CN=IdNat_PS + SN + GN, then OU=profession, O=TEST, C=FR."""
    return x509.Name(
        [
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]),
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TEST")]),
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, profession_label)]
            ),
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, national_id),
                    x509.NameAttribute(NameOID.SURNAME, surname),
                    x509.NameAttribute(NameOID.GIVEN_NAME, given_name),
                ]
            ),
        ]
    )


def card_auth_certificate(subject: x509.Name, public_key: rsa.RSAPublicKey, ca: Issued) -> x509.Certificate:
    return _leaf(
        subject, ca, public_key, signature=False, eku=[ExtendedKeyUsageOID.CLIENT_AUTH, SMARTCARD_LOGON]
    )


def card_sign_certificate(subject: x509.Name, public_key: rsa.RSAPublicKey, ca: Issued) -> x509.Certificate:
    return _leaf(subject, ca, public_key, signature=True, eku=[])


def structure_subject(finess: str, name: str, usage: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Sarthe (72)"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, finess),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{finess} {usage}"),
        ]
    )


def structure_certificates(finess: str, name: str, ca: Issued) -> tuple[Issued, Issued]:
    """ORG AUTH_CLI (TLS client) and ORG SIGN (VIHF and XAdES signature) for indirect mode."""
    auth_key, sign_key = new_key(), new_key()
    auth = _leaf(
        structure_subject(finess, name, "ORG AUTH_CLI"),
        ca,
        auth_key.public_key(),
        signature=False,
        eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    sign = _leaf(
        structure_subject(finess, name, "ORG SIGN"), ca, sign_key.public_key(), signature=True, eku=[]
    )
    return Issued(auth, auth_key), Issued(sign, sign_key)


def server_certificate(host: str, ca: Issued) -> Issued:
    key = new_key()
    san: list[x509.GeneralName] = [x509.DNSName(host), x509.DNSName("localhost")]
    san.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "DMP BAC A SABLE"),
            x509.NameAttribute(NameOID.COMMON_NAME, host),
        ]
    )
    cert = _leaf(
        subject, ca, key.public_key(), signature=False, eku=[ExtendedKeyUsageOID.SERVER_AUTH], san=san
    )
    return Issued(cert, key)


def write_pem_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def write_p12(
    path: Path, issued: Issued, chain: list[Issued], password: bytes = STRUCTURE_P12_PASSWORD
) -> None:
    assert issued.key is not None
    data = pkcs12.serialize_key_and_certificates(
        b"structure",
        issued.key,
        issued.certificate,
        [c.certificate for c in chain],
        serialization.BestAvailableEncryption(password),
    )
    path.write_bytes(data)
    path.chmod(0o600)


@dataclass(frozen=True)
class SoftwareCard:
    """A card holder's two key pairs as software keys, issued by the test PKI's PERSONNES CA: for
    tests and benchmarks that need direct mode without the card rig (the host sees only TLS and VIHF)."""

    tls_cert: Path  # the authentication certificate (PEM), for the TLS client
    tls_key: Path
    sign_key: rsa.RSAPrivateKey
    sign_cert: x509.Certificate


def software_card(
    pki_dir: Path, profile: CardProfile, out: Path, *, with_chain: bool = False
) -> SoftwareCard:
    """Issue the pair from ``pki_dir`` (the rig's ``pki`` folder); the TLS files go to ``out``
    (``<key>-auth.pem`` / ``.key``). ``with_chain``: the certificate file carries the CA after the leaf."""
    ca_key = serialization.load_pem_private_key((pki_dir / "ca-personnes.key").read_bytes(), None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    ca = Issued(x509.load_pem_x509_certificate((pki_dir / "ca-personnes.pem").read_bytes()), ca_key)
    subject = card_subject(profile.national_id, profile.surname, profile.given_name, profile.profession_label)
    auth_key, sign_key = new_key(), new_key()
    auth = card_auth_certificate(subject, auth_key.public_key(), ca)
    sign = card_sign_certificate(subject, sign_key.public_key(), ca)
    cert_path, key_path = out / f"{profile.key}-auth.pem", out / f"{profile.key}-auth.key"
    cert_path.write_bytes(Issued(auth, auth_key).cert_pem() + (ca.cert_pem() if with_chain else b""))
    write_pem_key(key_path, auth_key)
    return SoftwareCard(cert_path, key_path, sign_key, sign)
