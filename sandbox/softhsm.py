"""SoftHSM2 tokens shaped like CPS cards (ins-and-cards.md §4.2).

One token per virtual card, selected by label (SoftHSM gives random slot ids). The authentication
key is generated on the token; the signature key is generated outside and imported, as a CPS's is
at personalisation. Both private keys are sensitive and non-extractable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass
from pkcs11.util.rsa import decode_rsa_private_key

from sandbox import cards, pki

MODULE_CANDIDATES = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
]


class RigError(RuntimeError):
    """The sandbox rig cannot be brought up; the message says what to install or fix."""


def module_path() -> str:
    for candidate in MODULE_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    raise RigError("SoftHSM2 introuvable : sudo apt-get install -y --no-install-recommends softhsm2")


def write_config(rig_dir: Path) -> Path:
    tokens = rig_dir / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    config = rig_dir / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    return config


def init_token(config: Path, label: str, pin: str, so_pin: str) -> None:
    tool = shutil.which("softhsm2-util")
    if tool is None:
        raise RigError("softhsm2-util introuvable : sudo apt-get install -y --no-install-recommends softhsm2")
    env = dict(os.environ, SOFTHSM2_CONF=str(config))
    command = [tool, "--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin", pin]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RigError(f"softhsm2-util --init-token a échoué : {done.stderr.strip() or done.stdout.strip()}")


def _public_key(public: pkcs11.PublicKey) -> rsa.RSAPublicKey:
    modulus = int.from_bytes(public[Attribute.MODULUS], "big")
    exponent = int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big")
    return rsa.RSAPublicNumbers(exponent, modulus).public_key()


def _store_certificate(
    session: pkcs11.Session, der_cert: bytes, label: str, key_id: bytes, subject: bytes
) -> None:
    session.create_object(
        {
            Attribute.CLASS: ObjectClass.CERTIFICATE,
            Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.LABEL: label,
            Attribute.ID: key_id,
            Attribute.SUBJECT: subject,
            Attribute.VALUE: der_cert,
        }
    )


def provision(lib: Any, profile: cards.CardProfile, ca: pki.Issued) -> None:
    """Fill an initialised token with the keys, certificates and data objects of ``profile``.

    ``lib`` must have been loaded after the token was initialised: SoftHSM reads its token
    directory when the module is initialised.
    """
    token = lib.get_token(token_label=profile.token_label)
    subject = pki.card_subject(
        profile.national_id, profile.surname, profile.given_name, profile.profession_label
    )
    subject_der = subject.public_bytes()
    with token.open(rw=True, user_pin=cards.CARD_PIN) as session:
        public, _ = session.generate_keypair(
            KeyType.RSA,
            pki.KEY_BITS,
            id=profile.auth_id,
            label=cards.AUTH_KEY_LABEL,
            store=True,
            private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True},
        )
        auth_cert = pki.card_auth_certificate(subject, _public_key(public), ca)
        _store_certificate(
            session,
            auth_cert.public_bytes(serialization.Encoding.DER),
            cards.AUTH_CERT_LABEL,
            profile.auth_id,
            subject_der,
        )

        sign_key = pki.new_key()
        der_key = sign_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        attributes = decode_rsa_private_key(der_key)
        attributes.update(
            {
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.LABEL: cards.SIGN_KEY_LABEL,
                Attribute.ID: profile.sign_id,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True,
            }
        )
        session.create_object(attributes)
        sign_cert = pki.card_sign_certificate(subject, sign_key.public_key(), ca)
        _store_certificate(
            session,
            sign_cert.public_bytes(serialization.Encoding.DER),
            cards.SIGN_CERT_LABEL,
            profile.sign_id,
            subject_der,
        )

        for label, value, private in cards.data_objects(profile):
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.DATA,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: private,
                    Attribute.LABEL: label,
                    Attribute.APPLICATION: "CPS",
                    Attribute.VALUE: value,
                }
            )
