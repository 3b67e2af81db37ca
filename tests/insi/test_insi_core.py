"""The INSi protocol core (app/dmp_client/core/insi.py) against the published WSDL and XSDs
(resources/spec/insi/, from padoa/tlsi-ins) and the public example answers (tests/insi/fixtures/)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from app.dmp_client.core import insi
from app.dmp_client.core.errors import (
    InsiError,
    InsiFault,
    InsiHostileXml,
    InsiMalformedResponse,
    InsiOtherPerson,
    InsiRequestInvalid,
    InsiUnknownReport,
    InsiVitaleObsolete,
)
from app.dmp_client.core.ns import SOAP12, WSA
from app.dmp_client.core.soap import SoapRequest
from app.ins import IdentityTraits, Ins, InsOid, Nir, Sex

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "resources" / "spec" / "insi"
XSD = SPEC / "xsd"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSAW = "http://www.w3.org/2006/02/addressing/wsdl"
NOW = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
INSTANCE = "3f0c7a52-5d2e-4c1b-9a43-2f6f1b0d9e11"
CONTEXT = insi.InsiContext(insi.LpsIdentity("BAC-A-SABLE", "1.0.0", "ClientDMP", INSTANCE), "899900012342")


def schema(*path: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD.joinpath(*path))))


RECSANS = schema("ServiceIdentiteCertifiee", "INSi_RECSANS_INS.xsd")
RECVIT = schema("ServiceIdentiteCertifiee", "INSi_RECVITALE_INS.xsd")
RESULTAT = schema("ServiceIdentiteCertifiee", "INSi_RESULTAT_INS.xsd")
CTXLPS = schema("CTX", "ROOT_ctxlps_CTXLPS_V01_00.xsd")
CTXBAM = schema("CTX", "ROOT_ctxbam_CTXBAM_V01_02.xsd")
SIRAM = schema("schema_faultSOAP_V01_01.xsd")
SOAP_ENVELOPE = etree.XMLSchema(etree.parse(str(ROOT / "resources/spec/xds-xsd/soap-1.2-envelope.xsd")))
WS_ADDRESSING = etree.XMLSchema(etree.parse(str(ROOT / "resources/spec/wss-saml-xsd/ws-addr.xsd")))


def traits(first_names: str = "PIERRE-ALAIN MURIEL FLORIANT", place: str | None = "63220") -> IdentityTraits:
    return IdentityTraits.parse("ECETINSI", first_names, "M", "2009-07-14", place)


def assert_valid(xsd: etree.XMLSchema, element: etree._Element) -> None:
    document = etree.fromstring(etree.tostring(element))  # the element alone, as its own document
    assert xsd.validate(document), xsd.error_log


def check_request(request: SoapRequest, body_schema: etree.XMLSchema) -> etree._Element:
    """Every part of a request valid against its published schema; returns the envelope."""
    envelope = etree.fromstring(request.body)
    assert SOAP_ENVELOPE.validate(envelope), SOAP_ENVELOPE.error_log
    header, body = envelope
    assert header.tag == f"{{{SOAP12}}}Header" and body.tag == f"{{{SOAP12}}}Body"
    by_tag = {child.tag: child for child in header}
    assert_valid(CTXBAM, by_tag[f"{{{insi.NS_CTXBAM}}}ContexteBAM"])
    assert_valid(CTXLPS, by_tag[f"{{{insi.NS_CTXLPS}}}ContexteLPS"])
    assert_valid(WS_ADDRESSING, by_tag[f"{{{WSA}}}Action"])
    assert_valid(WS_ADDRESSING, by_tag[f"{{{WSA}}}MessageID"])
    assert by_tag[f"{{{WSA}}}Action"].text == request.action
    assert by_tag[f"{{{WSA}}}MessageID"].text == request.message_id
    assert len(body) == 1
    assert_valid(body_schema, body[0])
    return envelope


# --- the copied documents ----------------------------------------------------------------------------


def test_every_copied_schema_compiles_and_the_wsdl_is_well_formed() -> None:
    found = sorted(XSD.rglob("*.xsd"))
    assert len(found) == 6
    for path in found:
        etree.XMLSchema(etree.parse(str(path)))
    assert (
        etree.parse(str(SPEC / "DESIR_ICIR_EXP_1.5.0.wsdl")).getroot().get("name")
        == "ServiceIdentiteCertifiee-v1"
    )


def test_actions_and_header_parts_are_those_of_the_wsdl() -> None:
    wsdl = etree.parse(str(SPEC / "DESIR_ICIR_EXP_1.5.0.wsdl")).getroot()
    ns = {"wsdl": WSDL}
    actions = {}
    for operation in wsdl.findall("wsdl:portType/wsdl:operation", ns):
        actions[operation.find("wsdl:input", ns).get(f"{{{WSAW}}}Action")] = operation.find(
            "wsdl:output", ns
        ).get(f"{{{WSAW}}}Action")
    assert actions == insi.RESPONSE_ACTIONS
    for message in ("rechercherInsAvecTraitsIdentite", "rechercherInsAvecCarteVitale"):
        parts = wsdl.find(f"wsdl:message[@name='{message}']", ns)
        elements = {p.get("element") for p in parts}
        assert {"wsse:Security", "ctxlps:ContexteLPS", "wsa:MessageID", "ctxbam:ContexteBAM"} <= elements
    declared = {prefix: uri for prefix, uri in wsdl.nsmap.items() if prefix}
    assert declared["insi_recsans_ins"] == insi.NS_RECSANS
    assert declared["insi_recvit_ins"] == insi.NS_RECVIT
    assert declared["insi_resultat_ins"] == insi.NS_RESULTAT
    assert declared["ctxlps"] == insi.NS_CTXLPS and declared["ctxbam"] == insi.NS_CTXBAM
    assert declared["siram"] == insi.NS_SIRAM


def test_the_public_example_answers_are_valid_against_the_copied_result_schema() -> None:
    for path in sorted(FIXTURES.glob("*.xml")):
        resultat = next(etree.parse(str(path)).getroot().iter(f"{{{insi.NS_RESULTAT}}}RESULTAT"))
        assert_valid(RESULTAT, resultat)


# --- building ------------------------------------------------------------------------------------------


def test_a_first_search_by_traits_is_valid_and_carries_the_first_first_name_only() -> None:
    request = insi.search_by_traits(insi.TraitsSearch.first_step(traits()), CONTEXT, NOW)
    assert request.action == "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite"
    envelope = check_request(request, RECSANS)
    body = envelope[1][0]
    assert body.tag == "{http://www.cnamts.fr/INSiRecSans}RECSANSVITALE"
    assert [(etree.QName(e).localname, e.text) for e in body] == [
        ("NomNaissance", "ECETINSI"),
        ("Prenom", "PIERRE-ALAIN"),
        ("Sexe", "M"),
        ("DateNaissance", "2009-07-14"),
    ]


def test_the_lps_context_names_the_software_as_the_public_fixtures_do() -> None:
    envelope = check_request(
        insi.search_by_traits(insi.TraitsSearch.complete(traits()), CONTEXT, NOW), RECSANS
    )
    lps = envelope.find(f".//{{{insi.NS_CTXLPS}}}ContexteLPS")
    assert lps.get("Nature") == "CTXLPS" and lps.get("Version") == "01_00"
    assert lps.findtext(f"{{{insi.NS_CTXLPS}}}Temps") == "2026-12-07T11:00:00.000Z"
    assert lps.findtext(f"{{{insi.NS_CTXLPS}}}Emetteur") == "899900012342"
    software = lps.find(f"{{{insi.NS_CTXLPS}}}LPS")
    assert [etree.QName(e).localname for e in software] == ["IDAM", "Version", "Instance", "Nom"]
    assert software[0].text == "BAC-A-SABLE" and software[0].get("R") == "4"
    assert software[2].text == INSTANCE
    assert software[3].text == "urn:lps:ClientDMP:1.0.0"
    bam = envelope.find(f".//{{{insi.NS_CTXBAM}}}ContexteBAM")
    assert bam.get("Version") == "01_02"
    assert len(bam.find(f"{{{insi.NS_CTXBAM}}}COUVERTURE")) == 0  # empty without a Vitale card


def test_complete_search_sends_every_first_name_and_the_birthplace() -> None:
    body = etree.fromstring(insi.search_by_traits(insi.TraitsSearch.complete(traits()), CONTEXT, NOW).body)[
        1
    ][0]
    assert [e.text for e in body if etree.QName(e).localname == "Prenom"] == [
        "PIERRE-ALAIN",
        "MURIEL",
        "FLORIANT",
    ]
    assert body[-1].text == "63220" and etree.QName(body[-1]).localname == "LieuNaissance"


def test_unknown_birth_day_and_month_are_sent_as_a_lunar_date() -> None:
    partial = IdentityTraits.parse("ECETINSI", "PIERRE", "M", "2009-00-00")
    body = etree.fromstring(insi.search_by_traits(insi.TraitsSearch.first_step(partial), CONTEXT, NOW).body)[
        1
    ][0]
    assert body.findtext(f"{{{insi.NS_RECSANS}}}DateNaissance") == "2009-00-00"


def test_after_several_identities_the_search_widens_first_names_then_birthplace() -> None:
    full = traits()
    first = insi.TraitsSearch.first_step(full)
    second = first.widened(full)
    assert second is not None and second.first_names == full.first_names and second.birth_place is None
    third = second.widened(full)
    assert third is not None and third.birth_place == "63220"
    assert third.widened(full) is None


def test_a_vitale_search_is_valid_and_fills_recvitale_and_the_coverage() -> None:
    beneficiary = insi.VitaleBeneficiary(
        read_at=NOW - timedelta(minutes=5),
        rank=1,
        birth_date="2009-07-14",
        birth_name="ECETINSI",
        holder=Nir.parse("209076322083439"),
        own=Nir.parse("109076322083489"),
    )
    request = insi.search_with_vitale(beneficiary, CONTEXT, NOW)
    assert request.action == "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale"
    envelope = check_request(request, RECVIT)
    body = envelope[1][0]
    assert [etree.QName(e).localname for e in body] == [
        "MatriculeIndividu", "MatriculeOD", "NomNaissance", "DateNaissance", "RangNaissance",
    ]  # fmt: skip
    assert body[0].findtext(f"{{{insi.NS_RECVIT}}}NumIdentifiant") == "1090763220834"
    assert body[0].findtext(f"{{{insi.NS_RECVIT}}}Cle") == "89"
    coverage = envelope.find(f".//{{{insi.NS_CTXBAM}}}COUVERTURE")
    assert coverage.findtext(f"{{{insi.NS_CTXBAM}}}BENEFICIAIRE/{{{insi.NS_CTXBAM}}}Rang") == "1"
    assert beneficiary.sandbox_only and "1090763220834" not in repr(beneficiary)


def test_a_vitale_read_older_than_twenty_minutes_is_refused() -> None:
    old = insi.VitaleBeneficiary(
        NOW - timedelta(minutes=21), 1, "2009-07-14", own=Nir.parse("109076322083489")
    )
    with pytest.raises(InsiVitaleObsolete) as caught:
        insi.search_with_vitale(old, CONTEXT, NOW)
    assert caught.value.code == "INSI-VITALE-PERIMEE"


@pytest.mark.parametrize(
    "make",
    [
        lambda: insi.LpsIdentity("", "1", "n", INSTANCE),
        lambda: insi.LpsIdentity("X", "1", "n", "not-a-uuid"),
        lambda: insi.InsiContext(CONTEXT.lps, " "),
        lambda: insi.VitaleBeneficiary(
            datetime(2026, 1, 1), 1, "2009-07-14", own=Nir.parse("109076322083489")
        ),
        lambda: insi.VitaleBeneficiary(NOW, 1, "14/07/2009", own=Nir.parse("109076322083489")),
        lambda: insi.VitaleBeneficiary(NOW, 1, "2009-07-14"),
    ],
)
def test_invalid_contexts_and_cards_are_refused_before_sending(make: object) -> None:
    with pytest.raises(InsiRequestInvalid):
        make()  # type: ignore[operator]


# --- parsing the public example answers ------------------------------------------------------------------


def traits_request() -> SoapRequest:
    return insi.search_by_traits(insi.TraitsSearch.first_step(traits()), CONTEXT, NOW)


def parse_fixture(name: str) -> insi.InsiResult:
    return insi.parse_answer((FIXTURES / name).read_bytes(), traits_request())


def test_test_2_04_cas2_gives_the_identity_its_history_and_strict_traits() -> None:
    result = parse_fixture("TEST_2.04_cas2.xml")
    assert result.report is insi.Report.FOUND and result.label == "OK" and result.next_step is None
    identity = result.identity
    assert identity is not None
    assert identity.ins == Ins.parse("109076322083489", "1.2.250.1.213.1.4.10")
    assert [h.ins.matricule.value for h in identity.history] == ["209076322083439", "209066322012355"]
    assert [h.type_matricule for h in identity.history] == ["NIR", "NIR"]
    assert all(h.ins.oid is InsOid.NIR_TEST for h in identity.history)
    strict = identity.strict
    assert (strict.birth_name, strict.first_name, strict.first_names) == (
        "ECETINSI", "PIERRE-ALAIN", "PIERRE-ALAIN MURIEL FLORIANT",
    )  # fmt: skip
    assert (strict.sex, strict.birth_date, strict.birth_place) == ("M", "2009-07-14", "63220")
    assert identity.traits == traits()
    assert identity.inconsistencies == ()
    assert "ECETINSI" not in repr(result) and "1090763220834" not in repr(result)


def test_test_2_08_cas1_corsican_birthplace() -> None:
    identity = parse_fixture("TEST_2.08_cas1.xml").identity
    assert identity is not None
    assert identity.ins.matricule.value == "180032B02040123"
    assert identity.traits == IdentityTraits.parse("CORSE", "ANTHONY", "M", "1980-03-02", "2B020")
    assert identity.traits.sex is Sex.MALE
    assert len(identity.history) == 1 and identity.history[0].ins == identity.ins


def test_adrtrois_answer_with_prefixed_result_namespace() -> None:
    identity = parse_fixture("ADRTROIS_DOMINIQUE_insi-client.fixture.xml").identity
    assert identity is not None and identity.history == ()
    assert identity.ins.matricule.value == "297022A02077878"
    assert identity.strict.first_name == "DOMINIQUE" and identity.strict.birth_place == "20020"


def test_cr01_none_found_says_retry_with_other_criteria() -> None:
    result = parse_fixture("REP_CR01.xml")
    assert result.report is insi.Report.NOT_FOUND and result.identity is None
    assert result.label == "Aucune identite trouvee"
    assert result.next_step is insi.NextStep.OTHER_CRITERIA


def test_cr02_several_says_add_first_names_then_birthplace() -> None:
    result = parse_fixture("REP_CR02_insi-client.fixture.xml")
    assert result.report is insi.Report.SEVERAL and result.identity is None
    assert result.next_step is insi.NextStep.ADD_FIRST_NAMES_THEN_BIRTHPLACE
    assert "prénoms" in result.next_step.value and "lieu de naissance" in result.next_step.value


# --- refusals --------------------------------------------------------------------------------------------

GOOD = (FIXTURES / "TEST_2.04_cas2.xml").read_text(encoding="utf-8")


def answer(resultat: str, header: str = "") -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP12}"><soap:Header>{header}</soap:Header><soap:Body>'
        f'<RESULTAT xmlns="{insi.NS_RESULTAT}">{resultat}</RESULTAT></soap:Body></soap:Envelope>'
    ).encode()


CR00 = "<CR><CodeCR>00</CodeCR><LibelleCR>OK</LibelleCR></CR>"
INDIVIDU = GOOD[GOOD.index("<INDIVIDU>") : GOOD.index("</INDIVIDU>") + len("</INDIVIDU>")]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (answer(CR00), InsiMalformedResponse),  # 00 without an identity
        (answer("<CR><CodeCR>02</CodeCR><LibelleCR>x</LibelleCR></CR>" + INDIVIDU), InsiMalformedResponse),
        (answer("<CR><CodeCR>07</CodeCR><LibelleCR>Erreur</LibelleCR></CR>"), InsiUnknownReport),
        (answer(CR00 + INDIVIDU.replace("<Cle>89</Cle>", "")), InsiMalformedResponse),  # no key
        (answer(CR00 + INDIVIDU.replace("<Cle>89</Cle>", "<Cle>88</Cle>")), InsiMalformedResponse),
        (
            answer(CR00 + INDIVIDU.replace("1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.2")),
            InsiMalformedResponse,
        ),
        (answer(CR00 + INDIVIDU + INDIVIDU), InsiMalformedResponse),  # a repeated singleton
        (answer(CR00 + INDIVIDU.replace("<TIQ>", "<TIQ><Autre>x</Autre>")), InsiMalformedResponse),
        (
            answer(
                CR00 + INDIVIDU.replace("<ListePrenom>PIERRE-ALAIN", "<Prenom>JEAN</Prenom><ListePrenom>P")
            ),
            InsiMalformedResponse,
        ),
        (answer(CR00 + INDIVIDU.replace("2009-07-14", "14/07/2009")), InsiMalformedResponse),
        (
            answer(CR00, f"<wsa:RelatesTo xmlns:wsa='{WSA}'>urn:uuid:other</wsa:RelatesTo>"),
            InsiMalformedResponse,
        ),
        (answer(CR00, f"<wsa:Action xmlns:wsa='{WSA}'>urn:other</wsa:Action>"), InsiMalformedResponse),
        (b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", InsiHostileXml),
        (b"not xml", InsiMalformedResponse),
        (b"<a/>", InsiMalformedResponse),
        (b"x" * (insi.MAX_ANSWER_BYTES + 1), InsiHostileXml),
    ],
)
def test_incoherent_or_hostile_answers_are_refused_with_an_insi_error(data: bytes, error: type) -> None:
    with pytest.raises(error) as caught:
        insi.parse_answer(data, traits_request())
    assert caught.value.code.startswith("INSI-") and caught.value.user_message


def test_a_fault_keeps_the_siram_code_and_text() -> None:
    fault = (
        f'<soap:Envelope xmlns:soap="{SOAP12}"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:Sender'
        "</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang='fr'>Refus</soap:Text></soap:Reason>"
        f'<soap:Detail><siram:Erreur xmlns:siram="{insi.NS_SIRAM}" severite="fatale" code="siram_100">'
        "IDAM inconnu</siram:Erreur></soap:Detail></soap:Fault></soap:Body></soap:Envelope>"
    ).encode()
    erreur = next(etree.fromstring(fault).iter(f"{{{insi.NS_SIRAM}}}Erreur"))
    assert_valid(SIRAM, erreur)  # the fault's detail as the published schema describes it
    with pytest.raises(InsiFault) as caught:
        insi.parse_answer(fault, traits_request())
    assert caught.value.host_code == "siram_100" and caught.value.code == "INSI-REFUS"
    assert "siram_100" in caught.value.user_message and "IDAM inconnu" in caught.value.user_message


def test_a_matching_relates_to_and_response_action_are_accepted() -> None:
    request = traits_request()
    header = (
        f"<wsa:Action xmlns:wsa='{WSA}'>{insi.RESPONSE_ACTIONS[request.action]}</wsa:Action>"
        f"<wsa:RelatesTo xmlns:wsa='{WSA}'>{request.message_id}</wsa:RelatesTo>"
    )
    assert insi.parse_answer(answer(CR00 + INDIVIDU, header), request).identity is not None


def test_validity_dates_of_an_ins_are_read() -> None:
    dated = INDIVIDU.replace(
        "</OID></INSHISTO>", "</OID><DateDeb>2009-07-14</DateDeb><DateFin>2010-01-01Z</DateFin></INSHISTO>", 1
    )
    identity = insi.parse_answer(answer(CR00 + dated), traits_request()).identity
    assert identity is not None
    assert (identity.history[0].start, identity.history[0].end) == (date(2009, 7, 14), date(2010, 1, 1))


# --- verification --------------------------------------------------------------------------------------


def test_verification_outcomes() -> None:
    found = parse_fixture("TEST_2.04_cas2.xml")
    active = Ins.parse("109076322083489", "1.2.250.1.213.1.4.10")
    former = Ins.parse("209076322083439", "1.2.250.1.213.1.4.10")
    other = Ins.parse("180032B02040123", "1.2.250.1.213.1.4.10")
    assert insi.verify(active, traits(), found).outcome is insi.Verification.CONFIRMED
    assert insi.verify(former, traits(), found).outcome is insi.Verification.REPLACED
    assert insi.verify(other, traits(), found).outcome is insi.Verification.MISMATCH
    changed = insi.verify(active, traits("PIERRE"), found)
    assert changed.outcome is insi.Verification.MISMATCH and changed.differences == ("prénoms de naissance",)
    assert insi.verify(active, traits(), parse_fixture("REP_CR01.xml")).outcome is insi.Verification.NOT_FOUND
    several = parse_fixture("REP_CR02_insi-client.fixture.xml")
    assert insi.verify(active, traits(), several).outcome is insi.Verification.SEVERAL


def test_every_insi_error_is_a_project_error_with_a_code() -> None:
    for cls in (InsiError, InsiMalformedResponse, InsiHostileXml, InsiRequestInvalid, InsiVitaleObsolete):
        assert cls.code.startswith("INSI-") and cls.user_message


def test_a_vitale_answer_for_another_birth_date_is_refused() -> None:
    found = parse_fixture("TEST_2.04_cas2.xml")
    own = Nir.parse("109076322083489")
    same = insi.VitaleBeneficiary(NOW, 1, "2009-07-14", own=own)
    lunar = insi.VitaleBeneficiary(NOW, 1, "2009-00-00", own=own)
    other = insi.VitaleBeneficiary(NOW, 2, "2011-03-01", own=own)
    assert insi.check_vitale_answer(same, found) is found
    assert insi.check_vitale_answer(lunar, found) is found
    with pytest.raises(InsiOtherPerson):
        insi.check_vitale_answer(other, found)
    none = parse_fixture("REP_CR01.xml")
    assert insi.check_vitale_answer(other, none) is none


def test_hostile_sizes_are_refused_quickly() -> None:
    import time

    many = answer("<CR><CodeCR>00</CodeCR><LibelleCR>OK</LibelleCR></CR>" + "<x/>" * 30_000)
    deep = answer(CR00 + "<INDIVIDU>" * 5000 + "</INDIVIDU>" * 5000)
    history = answer(
        CR00
        + INDIVIDU.replace("<TIQ>", INDIVIDU[INDIVIDU.index("<INSHISTO>") :].split("<TIQ>")[0] * 60 + "<TIQ>")
    )
    start = time.monotonic()
    with pytest.raises(InsiHostileXml):
        insi.parse_answer(many, traits_request())  # more than 20,000 markup items
    with pytest.raises(InsiMalformedResponse):
        insi.parse_answer(deep, traits_request())
    with pytest.raises(InsiMalformedResponse):
        insi.parse_answer(history, traits_request())  # 120 INSHISTO > 100
    assert time.monotonic() - start < 5
