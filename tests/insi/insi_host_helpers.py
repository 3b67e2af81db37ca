"""Raw INSi SOAP requests built from the documents (not from the client), and a raw mTLS poster.

The request shape follows the published example of padoa/tlsi-ins (src/fixtures/fake_payload_from_wsdl.xml:
``ContexteBAM Version="01_02"``, ``ContexteLPS Nature="CTXLPS" Version="01_00"`` with ``Id``, ``Temps``,
``Emetteur``, ``LPS{IDAM R="4", Version, Instance, Nom}``, ``wsa:Action``, ``wsa:MessageID``) and the WSDL
DESIR_ICIR_EXP_1.5.0 (resources/spec/insi/).
"""

from __future__ import annotations

import http.client
import ssl
import uuid
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
RECSANS = "http://www.cnamts.fr/INSiRecSans"
RECVIT = "http://www.cnamts.fr/INSiRecVit"
RESULTAT = "http://www.cnamts.fr/INSiResultat"
SIRAM = "urn:siram"
TRAITS = "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite"
VITALE = "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale"
INSTANCE = "b3549edd-4ae9-472a-b26f-fd2fb4ef397f"


def lps(
    *,
    emetteur: str | None = "10B0152872",
    idam: str | None = "SANDBOX-IDAM",
    version: str | None = "1.0",
    instance: str | None = INSTANCE,
    nom: str | None = "client-dmp-tests",
    temps: str = "2026-12-07T11:00:00.000Z",
) -> str:
    def opt(tag: str, value: str | None, attrs: str = "") -> str:
        return "" if value is None else f"<ctxlps:{tag}{attrs}>{escape(value)}</ctxlps:{tag}>"

    software = (
        opt("IDAM", idam, ' R="4"') + opt("Version", version) + opt("Instance", instance) + opt("Nom", nom)
    )
    return (
        '<ctxlps:ContexteLPS xmlns:ctxlps="urn:siram:lps:ctxlps" Nature="CTXLPS" Version="01_00">'
        f"<ctxlps:Id>{uuid.uuid4()}</ctxlps:Id><ctxlps:Temps>{temps}</ctxlps:Temps>"
        f"{opt('Emetteur', emetteur)}<ctxlps:LPS>{software}</ctxlps:LPS></ctxlps:ContexteLPS>"
    )


def bam() -> str:
    return (
        '<ctxbam:ContexteBAM xmlns:ctxbam="urn:siram:bam:ctxbam" Version="01_02">'
        f"<ctxbam:Id>{uuid.uuid4()}</ctxbam:Id><ctxbam:Temps>2026-12-07T11:00:00.000Z</ctxbam:Temps>"
        "<ctxbam:Emetteur>10B0152872</ctxbam:Emetteur><ctxbam:COUVERTURE/></ctxbam:ContexteBAM>"
    )


def traits_body(
    nom: str | None, prenoms: list[str], sexe: str | None, date: str | None, lieu: str | None = None
) -> str:
    parts = [] if nom is None else [f"<rs:NomNaissance>{escape(nom)}</rs:NomNaissance>"]
    parts += [f"<rs:Prenom>{escape(p)}</rs:Prenom>" for p in prenoms]
    parts += [] if sexe is None else [f"<rs:Sexe>{sexe}</rs:Sexe>"]
    parts += [] if date is None else [f"<rs:DateNaissance>{date}</rs:DateNaissance>"]
    parts += [] if lieu is None else [f"<rs:LieuNaissance>{lieu}</rs:LieuNaissance>"]
    return f'<rs:RECSANSVITALE xmlns:rs="{RECSANS}">{"".join(parts)}</rs:RECSANSVITALE>'


def vitale_body(
    opening: str | None,
    date: str | None,
    own: str | None = None,
    nom: str | None = None,
    rang: str | None = None,
) -> str:
    def matricule(tag: str, nir: str | None) -> str:
        if nir is None:
            return ""
        number = f"<rv:NumIdentifiant>{nir[:13]}</rv:NumIdentifiant>"
        return f"<rv:{tag}>{number}<rv:Cle>{nir[13:]}</rv:Cle></rv:{tag}>"

    parts = matricule("MatriculeIndividu", own) + matricule("MatriculeOD", opening)
    parts += "" if nom is None else f"<rv:NomNaissance>{escape(nom)}</rv:NomNaissance>"
    parts += "" if date is None else f"<rv:DateNaissance>{date}</rv:DateNaissance>"
    parts += "" if rang is None else f"<rv:RangNaissance>{rang}</rv:RangNaissance>"
    return f'<rv:RECVITALE xmlns:rv="{RECVIT}">{parts}</rv:RECVITALE>'


def envelope(
    body: str,
    action: str = TRAITS,
    *,
    lps_xml: str | None = None,
    bam_xml: str | None = None,
    message_id: str | None = "auto",
    extra_header: str = "",
) -> bytes:
    mid = f"urn:uuid:{uuid.uuid4()}" if message_id == "auto" else message_id
    header = (
        (bam() if bam_xml is None else bam_xml)
        + (lps() if lps_xml is None else lps_xml)
        + (f"<wsa:Action>{action}</wsa:Action>" if action else "")
        + (f"<wsa:MessageID>{mid}</wsa:MessageID>" if mid else "")
        + extra_header
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP}" xmlns:wsa="{WSA}">'
        f"<soap:Header>{header}</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


@dataclass
class Answer:
    status: int
    root: etree._Element
    raw: bytes
    seconds: float = 0.0

    def body_child(self) -> etree._Element:
        body = self.root.find(f"{{{SOAP}}}Body")
        assert body is not None
        return next(c for c in body if isinstance(c.tag, str))

    @property
    def code(self) -> str:
        return self.body_child().findtext(f"{{{RESULTAT}}}CR/{{{RESULTAT}}}CodeCR") or ""

    @property
    def subcode(self) -> str:
        return self.root.findtext(f".//{{{SOAP}}}Subcode/{{{SOAP}}}Value") or ""


def client_context(trust: Path, cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(trust)
    context.load_cert_chain(cert, key)
    return context


def post(
    port: int,
    context: ssl.SSLContext,
    data: bytes,
    *,
    action: str | None = TRAITS,
    timeout: float = 10.0,
    content_type: str | None = None,
) -> Answer:
    import time

    start = time.monotonic()
    connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=timeout)
    try:
        ctype = content_type or f'application/soap+xml; charset=UTF-8; action="{action}"'
        connection.request("POST", "/lps", body=data, headers={"Content-Type": ctype})
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    return Answer(response.status, etree.fromstring(raw), raw, time.monotonic() - start)
