"""The sandbox INSi host over real mutual TLS, driven by raw SOAP requests built from the documents.

Every answer (results and faults) is checked against the published XSDs (resources/spec/insi/), with a
validator built here from the files, not the host's own.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from sandbox import cards, pki
from sandbox.insi.referential import MatchRules
from sandbox.insi.server import InsiConfig, InsiFaults, InsiHost, serve_in_thread
from sandbox.patients import load_patients
from tests.insi import insi_host_helpers as h

SPEC = Path(__file__).resolve().parents[2] / "resources" / "spec" / "insi"
XS = "http://www.w3.org/2001/XMLSchema"


def _validator() -> etree.XMLSchema:
    root = etree.Element(f"{{{XS}}}schema", nsmap={"xs": XS})
    for ns, rel in [
        (h.RESULTAT, "xsd/ServiceIdentiteCertifiee/INSi_RESULTAT_INS.xsd"),
        (h.RECSANS, "xsd/ServiceIdentiteCertifiee/INSi_RECSANS_INS.xsd"),
        (h.RECVIT, "xsd/ServiceIdentiteCertifiee/INSi_RECVITALE_INS.xsd"),
        (h.SIRAM, "xsd/schema_faultSOAP_V01_01.xsd"),
    ]:
        etree.SubElement(root, f"{{{XS}}}import", namespace=ns, schemaLocation=(SPEC / rel).as_uri())
    return etree.XMLSchema(root)


VALIDATOR = _validator()
GOOD = h.traits_body("DURAND", ["CLAIRE"], "F", "2007-05-14")


def assert_valid(answer: h.Answer) -> None:
    """The SOAP 1.2 body's content against the INSi XSDs: RESULTAT, or the fault's siram:Erreur."""
    assert answer.root.tag == f"{{{h.SOAP}}}Envelope"
    child = answer.body_child()
    if child.tag == f"{{{h.SOAP}}}Fault":
        assert answer.status == 500
        detail = child.find(f"{{{h.SOAP}}}Detail/{{{h.SIRAM}}}Erreur")
        assert detail is not None
        node = etree.fromstring(etree.tostring(detail))
    else:
        assert answer.status == 200
        assert child.tag == f"{{{h.RESULTAT}}}RESULTAT"
        node = etree.fromstring(etree.tostring(child))
    assert VALIDATOR.validate(node), VALIDATOR.error_log


@pytest.fixture(scope="module")
def tls_files(pki_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    out = tmp_path_factory.mktemp("insi-tls")
    card = pki.software_card(pki_dir / "pki", cards.card("generaliste"), out)
    sign_key = out / "generaliste-sign.key"
    pki.write_pem_key(sign_key, card.sign_key)
    from cryptography.hazmat.primitives import serialization

    sign_cert = out / "generaliste-sign.pem"
    sign_cert.write_bytes(card.sign_cert.public_bytes(serialization.Encoding.PEM))
    folder = pki_dir / "pki"
    return {
        "cps": (card.tls_cert, card.tls_key),
        "org": (folder / "structure-auth.pem", folder / "structure-auth.key"),
        "org-sign": (folder / "structure-sign.pem", folder / "structure-sign.key"),
        "cps-sign": (sign_cert, sign_key),
    }


def make_host(pki_dir: Path, **kwargs: object) -> InsiHost:
    host = InsiHost(("127.0.0.1", 0), InsiConfig(pki_dir / "pki", **kwargs))  # type: ignore[arg-type]
    serve_in_thread(host)
    return host


@pytest.fixture
def insi(pki_dir: Path) -> Iterator[InsiHost]:
    host = make_host(pki_dir)
    yield host
    host.shutdown()
    host.server_close()


def context(pki_dir: Path, tls_files: dict[str, tuple[Path, Path]], who: str = "cps") -> ssl.SSLContext:
    cert, key = tls_files[who]
    return h.client_context(pki_dir / "pki" / "trust-bundle.pem", cert, key)


@pytest.fixture
def cps(pki_dir: Path, tls_files: dict[str, tuple[Path, Path]]) -> ssl.SSLContext:
    return context(pki_dir, tls_files, "cps")


def ask(host: InsiHost, ctx: ssl.SSLContext, data: bytes, action: str = h.TRAITS) -> h.Answer:
    answer = h.post(host.server_address[1], ctx, data, action=action)
    assert_valid(answer)
    return answer


def individu(answer: h.Answer) -> etree._Element:
    node = answer.body_child().find(f"{{{h.RESULTAT}}}INDIVIDU")
    assert node is not None
    return node


def r(node: etree._Element, path: str) -> str:
    return node.findtext("/".join(f"{{{h.RESULTAT}}}{p}" for p in path.split("/"))) or ""


# --- searches by traits: 00 / 01 / 02 ----------------------------------------------------------------


@pytest.mark.parametrize("patient", [p for p in load_patients() if p.id != "P07"], ids=lambda p: p.id)
def test_every_sandbox_patient_is_found_by_traits_with_its_test_ins(
    insi: InsiHost, cps: ssl.SSLContext, patient
) -> None:
    first = patient.first_names.split()[0]
    answer = ask(
        insi, cps, h.envelope(h.traits_body(patient.birth_name, [first], patient.sex, patient.birth_date))
    )
    assert answer.code == "00"
    node = individu(answer)
    assert (
        r(node, "INSACTIF/IdIndividu/NumIdentifiant") + r(node, "INSACTIF/IdIndividu/Cle")
        == patient.matricule
    )
    assert r(node, "INSACTIF/OID") == "1.2.250.1.213.1.4.10"
    assert r(node, "TIQ/NomNaissance") == patient.birth_name
    assert r(node, "TIQ/ListePrenom") == patient.first_names
    assert r(node, "TIQ/Prenom") == first
    assert r(node, "TIQ/DateNaissance") == patient.birth_date
    assert r(node, "TIQ/LieuNaissance") == (patient.birth_place or "")


def test_answer_can_be_addressed_to_the_request(
    pki_dir: Path, tls_files: dict[str, tuple[Path, Path]]
) -> None:
    host = make_host(pki_dir, answer_addressing=True)
    try:
        ctx = context(pki_dir, tls_files)
        data = h.envelope(h.traits_body("DURAND", ["CLAIRE"], "F", "2007-05-14"), message_id="urn:uuid:1234")
        answer = ask(host, ctx, data)
        assert answer.root.findtext(f".//{{{h.WSA}}}RelatesTo") == "urn:uuid:1234"
        assert (
            answer.root.findtext(f".//{{{h.WSA}}}Action") == h.TRAITS + "Response"
        )  # the WSDL's output action
        vitale = ask(host, ctx, h.envelope(h.vitale_body("285127505612353", "851224"), h.VITALE), h.VITALE)
        assert vitale.root.findtext(f".//{{{h.WSA}}}Action") == h.VITALE + "Response"
        fault = ask(host, ctx, h.envelope(GOOD, lps_xml=h.lps(nom=None), message_id="urn:uuid:5678"))
        assert fault.root.findtext(f".//{{{h.WSA}}}RelatesTo") == "urn:uuid:5678"
    finally:
        host.shutdown()
        host.server_close()


def test_unknown_person_gives_01_without_individu(insi: InsiHost, cps: ssl.SSLContext) -> None:
    answer = ask(insi, cps, h.envelope(h.traits_body("INCONNU", ["PERSONNE"], "F", "1990-01-01")))
    assert answer.code == "01"
    assert answer.body_child().find(f"{{{h.RESULTAT}}}INDIVIDU") is None
    assert r(answer.body_child(), "CR/LibelleCR") == "Aucune identite trouvee"  # REP_CR01.xml


def test_homonyms_give_02_then_00_with_another_first_name_or_the_birthplace(
    insi: InsiHost, cps: ssl.SSLContext
) -> None:
    assert ask(insi, cps, h.envelope(h.traits_body("MARTIN", ["LOUIS"], "M", "1972-02-29"))).code == "02"
    by_name = ask(insi, cps, h.envelope(h.traits_body("MARTIN", ["LOUIS", "PIERRE"], "M", "1972-02-29")))
    assert by_name.code == "00"
    assert r(individu(by_name), "TIQ/LieuNaissance") == "75056"
    by_place = ask(insi, cps, h.envelope(h.traits_body("MARTIN", ["LOUIS"], "M", "1972-02-29", "69123")))
    assert by_place.code == "00"
    assert r(individu(by_place), "TIQ/ListePrenom") == "LOUIS ANDRÉ"
    assert r(individu(by_name), "INSACTIF/IdIndividu/NumIdentifiant") != r(
        individu(by_place), "INSACTIF/IdIndividu/NumIdentifiant"
    )


def test_names_are_compared_without_accents_case_or_hyphens(insi: InsiHost, cps: ssl.SSLContext) -> None:
    # [UNSURE] rule (MatchRules.normalise): ÉLODIE typed ELODIE, LE GOFF typed le-goff.
    assert ask(insi, cps, h.envelope(h.traits_body("petit", ["Elodie"], "F", "1985-12-24"))).code == "00"
    assert (
        ask(insi, cps, h.envelope(h.traits_body("le-goff", ["MARIE ANNICK"], "F", "1956-10-30"))).code == "00"
    )


def test_strict_normalisation_is_configurable(pki_dir: Path, tls_files: dict[str, tuple[Path, Path]]) -> None:
    host = make_host(pki_dir, rules=MatchRules(normalise=False))
    try:
        ctx = context(pki_dir, tls_files)
        assert ask(host, ctx, h.envelope(h.traits_body("petit", ["Elodie"], "F", "1985-12-24"))).code == "01"
    finally:
        host.shutdown()
        host.server_close()


def test_wrong_sex_date_or_birthplace_gives_01(insi: InsiHost, cps: ssl.SSLContext) -> None:
    for body in (
        h.traits_body("DURAND", ["CLAIRE"], "M", "2007-05-14"),
        h.traits_body("DURAND", ["CLAIRE"], "F", "2007-05-15"),
        h.traits_body("DURAND", ["CLAIRE"], "F", "2007-05-14", "75056"),
        h.traits_body("DURAND", ["MARIE"], "F", "2007-05-14"),  # second first name first
    ):
        assert ask(insi, cps, h.envelope(body)).code == "01"


def test_lunar_birth_date_is_searched_as_given(insi: InsiHost, cps: ssl.SSLContext) -> None:
    answer = ask(insi, cps, h.envelope(h.traits_body("NGUYEN", ["VAN"], "M", "1969-03-00")))
    assert answer.code == "00"
    assert r(individu(answer), "TIQ/DateNaissance") == "1969-03-00"


def test_ins_history_is_returned(insi: InsiHost, cps: ssl.SSLContext) -> None:
    node = individu(ask(insi, cps, h.envelope(h.traits_body("NGUYEN", ["VAN", "MINH"], "M", "1969-03-00"))))
    history = node.findall(f"{{{h.RESULTAT}}}INSHISTO")
    assert len(history) == 1
    assert r(history[0], "IdIndividu/NumIdentifiant") + r(history[0], "IdIndividu/Cle") == "769039924304286"
    assert r(history[0], "OID") == "1.2.250.1.213.1.4.10"


def test_person_whose_traits_changed(insi: InsiHost, cps: ssl.SSLContext) -> None:
    patient = next(p for p in load_patients() if p.id == "P07")
    # The local (sandbox patient) birthplace is no longer INSi's: 01.
    old = h.traits_body(patient.birth_name, ["MARIE-ANNICK"], "F", patient.birth_date, patient.birth_place)
    assert ask(insi, cps, h.envelope(old)).code == "01"
    # Without the birthplace the person is found, with the referential's current traits.
    node = individu(ask(insi, cps, h.envelope(h.traits_body("LE GOFF", ["MARIE-ANNICK"], "F", "1956-10-30"))))
    assert r(node, "TIQ/ListePrenom") == "MARIE-ANNICK JOSÉPHINE" != patient.first_names
    assert r(node, "TIQ/LieuNaissance") == "44184" != patient.birth_place
    assert (
        r(node, "INSACTIF/IdIndividu/NumIdentifiant") + r(node, "INSACTIF/IdIndividu/Cle")
        == patient.matricule
    )


def test_verification_of_a_known_ins_is_the_same_search(insi: InsiHost, cps: ssl.SSLContext) -> None:
    """Verification (issue 17): search with the known traits, compare the INS returned."""
    node = individu(
        ask(insi, cps, h.envelope(h.traits_body("SANTONI", ["PAUL", "ANGE"], "M", "1988-10-03", "2B172")))
    )
    assert r(node, "INSACTIF/IdIndividu/NumIdentifiant") == "188102B172951"
    assert r(node, "INSACTIF/IdIndividu/Cle") == "65"


# --- search with the (virtual) Vitale card --------------------------------------------------------


def test_vitale_search_for_each_beneficiary_of_the_family_card(insi: InsiHost, cps: ssl.SSLContext) -> None:
    patients = load_patients()
    holder = next(p for p in patients if p.id == "P04")
    members = [holder] + [p for p in patients if p.vitale.opening_nir == holder.matricule]
    assert len(members) == 2  # the family card vitale:P04 (sandbox/vicc.py)
    found = set()
    for member in members:
        body = h.vitale_body(holder.matricule, member.vitale.birth_date, own=member.vitale.nir_own)
        answer = ask(insi, cps, h.envelope(body, h.VITALE), h.VITALE)
        assert answer.code == "00"
        node = individu(answer)
        matricule = r(node, "INSACTIF/IdIndividu/NumIdentifiant") + r(node, "INSACTIF/IdIndividu/Cle")
        assert matricule == member.matricule  # the person's own INS, not the card holder's
        assert r(node, "TIQ/ListePrenom") == member.first_names
        found.add(matricule)
    assert len(found) == 2


def test_vitale_search_with_a_beneficiary_not_on_the_card_gives_01(
    insi: InsiHost, cps: ssl.SSLContext
) -> None:
    body = h.vitale_body("285127505612353", "070514")  # P01's birth date on P04's card
    assert ask(insi, cps, h.envelope(body, h.VITALE), h.VITALE).code == "01"


def test_vitale_search_checks_the_rank_and_birth_name_when_given(insi: InsiHost, cps: ssl.SSLContext) -> None:
    ok = h.vitale_body("285127505612353", "150609", nom="PETIT", rang="2")
    assert ask(insi, cps, h.envelope(ok, h.VITALE), h.VITALE).code == "00"
    wrong = h.vitale_body("285127505612353", "150609", rang="1")
    assert ask(insi, cps, h.envelope(wrong, h.VITALE), h.VITALE).code == "01"


def test_traits_body_under_the_vitale_action_is_refused(insi: InsiHost, cps: ssl.SSLContext) -> None:
    body = h.traits_body("DURAND", ["CLAIRE"], "F", "2007-05-14")
    answer = ask(insi, cps, h.envelope(body, h.VITALE), h.VITALE)
    assert answer.subcode == "S:siram_sandbox_schema"


# --- authentication ------------------------------------------------------------------------------


def test_structure_org_certificate_is_accepted(
    insi: InsiHost, pki_dir: Path, tls_files: dict[str, tuple[Path, Path]]
) -> None:
    ctx = context(pki_dir, tls_files, "org")
    assert ask(insi, ctx, h.envelope(h.traits_body("DURAND", ["CLAIRE"], "F", "2007-05-14"))).code == "00"
    assert insi.journal[-1].caller.startswith("ORG:")


def test_structure_mode_can_be_refused(pki_dir: Path, tls_files: dict[str, tuple[Path, Path]]) -> None:
    host = make_host(pki_dir, allow_structure=False)
    try:
        answer = ask(
            host,
            context(pki_dir, tls_files, "org"),
            h.envelope(h.traits_body("DURAND", ["C"], "F", "2007-05-14")),
        )
        assert answer.subcode == "S:siram_sandbox_authentification"
        assert answer.body_child().findtext(f"{{{h.SOAP}}}Code/{{{h.SOAP}}}Value") == "S:Sender"
    finally:
        host.shutdown()
        host.server_close()


@pytest.mark.parametrize("who", ["org-sign", "cps-sign"])
def test_a_signature_certificate_cannot_authenticate(
    insi: InsiHost, pki_dir: Path, tls_files: dict[str, tuple[Path, Path]], who: str
) -> None:
    data = h.envelope(h.traits_body("DURAND", ["CLAIRE"], "F", "2007-05-14"))
    try:
        answer = h.post(insi.server_address[1], context(pki_dir, tls_files, who), data)
    except (ssl.SSLError, ConnectionError):
        return  # refused at the TLS handshake already
    assert_valid(answer)
    assert answer.subcode == "S:siram_sandbox_authentification"


def test_security_header_can_be_required(pki_dir: Path, tls_files: dict[str, tuple[Path, Path]]) -> None:
    host = make_host(pki_dir, require_security_header=True)
    try:
        ctx = context(pki_dir, tls_files)
        body = h.traits_body("DURAND", ["CLAIRE"], "F", "2007-05-14")
        assert ask(host, ctx, h.envelope(body)).subcode == "S:siram_sandbox_authentification"
        security = '<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"/>'
        assert ask(host, ctx, h.envelope(body, extra_header=security)).code == "00"
    finally:
        host.shutdown()
        host.server_close()


# --- header checks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("no Emetteur", h.envelope(GOOD, lps_xml=h.lps(emetteur=None))),
        ("no IDAM", h.envelope(GOOD, lps_xml=h.lps(idam=None))),
        ("no Version", h.envelope(GOOD, lps_xml=h.lps(version=None))),
        ("no Instance", h.envelope(GOOD, lps_xml=h.lps(instance=None))),
        ("Instance not a UUID", h.envelope(GOOD, lps_xml=h.lps(instance="poste-1"))),
        ("no Nom", h.envelope(GOOD, lps_xml=h.lps(nom=None))),
        ("Temps not a dateTime", h.envelope(GOOD, lps_xml=h.lps(temps="hier"))),
        ("no ContexteLPS", h.envelope(GOOD, lps_xml="")),
        ("no ContexteBAM", h.envelope(GOOD, bam_xml="")),
        (
            "ContexteBAM without COUVERTURE",
            h.envelope(GOOD, bam_xml=h.bam().replace("<ctxbam:COUVERTURE/>", "")),
        ),
        ("no MessageID", h.envelope(GOOD, message_id=None)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_header_checks_refuse(insi: InsiHost, cps: ssl.SSLContext, case: str, data: bytes) -> None:
    answer = ask(insi, cps, data)
    assert answer.subcode == "S:siram_sandbox_entete", case
    assert answer.body_child().findtext(f"{{{h.SOAP}}}Code/{{{h.SOAP}}}Value") == "S:Sender"


def test_unknown_or_missing_action_refused(insi: InsiHost, cps: ssl.SSLContext) -> None:
    assert (
        ask(insi, cps, h.envelope(GOOD, "urn:ServiceIdentiteCertifiee:1.0.0:autre")).subcode
        == "S:siram_sandbox_action"
    )
    assert ask(insi, cps, h.envelope(GOOD, "")).subcode == "S:siram_sandbox_action"


# --- request validity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        # elements out of the XSD's sequence order (Sexe before Prenom)
        f'<rs:RECSANSVITALE xmlns:rs="{h.RECSANS}"><rs:NomNaissance>DURAND</rs:NomNaissance>'
        "<rs:Sexe>F</rs:Sexe>"
        "<rs:Prenom>CLAIRE</rs:Prenom><rs:DateNaissance>2007-05-14</rs:DateNaissance></rs:RECSANSVITALE>",
        # an element the XSD does not know
        f'<rs:RECSANSVITALE xmlns:rs="{h.RECSANS}"><rs:NomNaissance>DURAND</rs:NomNaissance>'
        "<rs:NIR>1</rs:NIR>"
        "</rs:RECSANSVITALE>",
        # the right element name in the wrong namespace
        '<RECSANSVITALE xmlns="http://www.cnamts.fr/INSiRecVit"><NomNaissance>DURAND</NomNaissance></RECSANSVITALE>',
    ],
)
def test_xsd_invalid_request_refused(insi: InsiHost, cps: ssl.SSLContext, body: str) -> None:
    assert ask(insi, cps, h.envelope(body)).subcode == "S:siram_sandbox_schema"


@pytest.mark.parametrize(
    "body",
    [
        h.traits_body("DURAND", [], "F", "2007-05-14"),
        h.traits_body(None, ["CLAIRE"], "F", "2007-05-14"),
        h.traits_body("DURAND", ["CLAIRE"], None, "2007-05-14"),
        h.traits_body("DURAND", ["CLAIRE"], "F", None),
        h.traits_body("DURAND", ["CLAIRE"], "X", "2007-05-14"),
        h.traits_body("DURAND", ["CLAIRE"], "F", "14/05/2007"),
    ],
)
def test_incomplete_criteria_refused(insi: InsiHost, cps: ssl.SSLContext, body: str) -> None:
    assert ask(insi, cps, h.envelope(body)).subcode == "S:siram_sandbox_criteres"


def test_malformed_xml_soap11_and_wrong_content_type_refused(insi: InsiHost, cps: ssl.SSLContext) -> None:
    port = insi.server_address[1]
    for data in (
        b"<soap:Envelope",
        b'<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"/>',
        b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
    ):
        answer = h.post(port, cps, data)
        assert_valid(answer)
        assert answer.subcode == "S:siram_sandbox_requete"
    answer = h.post(port, cps, h.envelope(GOOD), content_type="text/xml; charset=UTF-8")
    assert_valid(answer)
    assert answer.subcode == "S:siram_sandbox_requete"


def test_wrong_path_is_404(insi: InsiHost, cps: ssl.SSLContext) -> None:
    import http.client

    connection = http.client.HTTPSConnection("localhost", insi.server_address[1], context=cps, timeout=10)
    connection.request(
        "POST", "/autre", body=h.envelope(GOOD), headers={"Content-Type": "application/soap+xml"}
    )
    assert connection.getresponse().status == 404
    connection.close()


# --- injected faults and latency -----------------------------------------------------------------


def test_injected_unavailability_is_the_documented_siram_40_fault(
    pki_dir: Path, tls_files: dict[str, tuple[Path, Path]]
) -> None:
    host = make_host(pki_dir, faults=InsiFaults(error_rate=1.0))
    try:
        answer = ask(host, context(pki_dir, tls_files), h.envelope(GOOD))
        fault = answer.body_child()
        assert fault.findtext(f"{{{h.SOAP}}}Code/{{{h.SOAP}}}Value") == "S:Receiver"
        assert answer.subcode == "S:siram_40"
        erreur = fault.find(f"{{{h.SOAP}}}Detail/{{{h.SIRAM}}}Erreur")
        assert erreur is not None and erreur.get("code") == "insi_102"
    finally:
        host.shutdown()
        host.server_close()


def test_injected_latency_delays_and_times_out(
    pki_dir: Path, tls_files: dict[str, tuple[Path, Path]]
) -> None:
    host = make_host(pki_dir, faults=InsiFaults(latency=0.6))
    try:
        ctx = context(pki_dir, tls_files)
        answer = h.post(host.server_address[1], ctx, h.envelope(GOOD))
        assert answer.code == "00"
        assert answer.seconds >= 0.6
        with pytest.raises(TimeoutError):
            h.post(host.server_address[1], ctx, h.envelope(GOOD), timeout=0.2)
    finally:
        host.shutdown()
        host.server_close()


def test_injected_dropped_connection(pki_dir: Path, tls_files: dict[str, tuple[Path, Path]]) -> None:
    import http.client

    host = make_host(pki_dir, faults=InsiFaults(drop_rate=1.0))
    try:
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError)):
            h.post(host.server_address[1], context(pki_dir, tls_files), h.envelope(GOOD))
    finally:
        host.shutdown()
        host.server_close()


def test_answers_carry_no_header_as_the_recorded_public_answers(insi: InsiHost, cps: ssl.SSLContext) -> None:
    for data in (h.envelope(GOOD), h.envelope(GOOD, lps_xml=h.lps(nom=None))):
        answer = ask(insi, cps, data)
        assert answer.root.find(f"{{{h.SOAP}}}Header") is None  # as in TEST_2.04_cas2.xml / REP_CR01.xml


def test_journal_keeps_no_patient_data(insi: InsiHost, cps: ssl.SSLContext) -> None:
    ask(insi, cps, h.envelope(GOOD))
    ask(insi, cps, h.envelope(h.traits_body("MARTIN", ["LOUIS"], "M", "1972-02-29")))
    assert [e.outcome for e in insi.journal] == ["00", "02"]
    text = repr(insi.journal)
    for secret in ("DURAND", "CLAIRE", "2007-05-14", "2070585756270", "MARTIN"):
        assert secret not in text


# --- hostile input -------------------------------------------------------------------------------


def _raw(port: int, ctx: ssl.SSLContext, head: bytes, body: bytes = b"") -> bytes:
    import socket

    with (
        socket.create_connection(("localhost", port), timeout=10) as plain,
        ctx.wrap_socket(plain, server_hostname="localhost") as tls,
    ):
        tls.sendall(head + body)
        return tls.recv(200)


def test_oversized_or_unsized_body_refused_without_reading_it(insi: InsiHost, cps: ssl.SSLContext) -> None:
    import time

    port = insi.server_address[1]
    start = time.monotonic()
    big = _raw(
        port,
        cps,
        b"POST /lps HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml\r\n"
        b"Content-Length: 1073741824\r\n\r\n",
    )
    assert big.startswith(b"HTTP/1.1 413")
    chunked = _raw(port, cps, b"POST /lps HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert chunked.startswith(b"HTTP/1.1 411")
    assert time.monotonic() - start < 5


def test_entity_expansion_refused_quickly(insi: InsiHost, cps: ssl.SSLContext) -> None:
    import time

    lol = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            b'<!ENTITY %s "%s">' % (f"a{i + 1}".encode(), (f"&a{i};" if i else "&a;").encode() * 10)
            for i in range(9)
        )
        + b"]><l>&a9;</l>"
    )
    start = time.monotonic()
    answer = h.post(insi.server_address[1], cps, lol)
    assert_valid(answer)
    assert answer.subcode == "S:siram_sandbox_requete"
    assert time.monotonic() - start < 5
