"""The CDA renderer (issue 19 item 3): the ANS examples render with their section titles and table
cells; each NarrativeBlock element (CDA R2 NarrativeBlock.xsd, ``StrucDoc.*``) gives its rendering;
the French header carries the INS strict traits."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from lxml import etree

from app.dmp_client.core.cda_render import (
    ALLOWED_TAGS,
    EXTERNAL,
    STYLE,
    TRUNCATED,
    has_structured_body,
    ins_from_cx,
    render,
    tags_of,
)
from app.dmp_client.core.errors import CdaNotRenderable, HostileXml, OtherPatientAnswer
from app.ins import Ins

ROOT = Path(__file__).resolve().parents[2]
V3 = "urn:hl7-org:v3"
STRUCTURED = sorted((ROOT / "sandbox" / "data" / "structured").glob("*.xml")) + sorted(
    (ROOT / "tests" / "data" / "structured").glob("*.xml")
)
LEVEL_1 = sorted((ROOT / "resources" / "spec" / "cda-examples").glob("*.xml"))

HEADER = """<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <id root="1.2.3.4"/>
  <code code="60591-5" codeSystem="2.16.840.1.113883.6.1" displayName="Synthèse médicale"/>
  <title>Synthèse d'essai</title>
  <effectiveTime value="20261207101500+0100"/>
  <setId root="1.2.3.5"/><versionNumber value="2"/>
  <recordTarget><patientRole>
    <id root="1.2.250.1.213.1.4.10" extension="207058575627097"/>
    <patient classCode="PSN">
      <name><family qualifier="BR">DURAND</family><given>CLAIRE MARIE</given>
        <given qualifier="BR">CLAIRE</given><family qualifier="CL">MARTIN</family></name>
      <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>
      <birthTime value="20070514"/>
      <birthplace><place><addr><county>85756</county></addr></place></birthplace>
    </patient>
  </patientRole></recordTarget>
  <author><time value="20261207101500+0100"/><assignedAuthor>
    <id root="1.2.250.1.71.4.2.1" extension="899900012341"/>
    <code code="G15_10/SM54" displayName="Médecine générale"/>
    <assignedPerson><name><given>CLAIRE</given><family>MEDECIN-GENERALISTE</family></name></assignedPerson>
    <representedOrganization><id root="1.2.250.1.71.4.2.2" extension="499900012341001"/>
      <name>Cabinet du bac à sable</name></representedOrganization>
  </assignedAuthor></author>
  <custodian><assignedCustodian><representedCustodianOrganization>
    <id root="1.2.250.1.71.4.2.2" extension="1990000017"/><name>Hébergeur d'essai</name>
  </representedCustodianOrganization></assignedCustodian></custodian>
  <legalAuthenticator><time value="20261207110000+0100"/><signatureCode code="S"/><assignedEntity>
    <id root="1.2.250.1.71.4.2.1" extension="899900012341"/>
    <assignedPerson><name><given>PAUL</given><family>RESPONSABLE</family></name></assignedPerson>
  </assignedEntity></legalAuthenticator>
  <documentationOf><serviceEvent><effectiveTime><low value="20261201"/><high value="20261207"/>
  </effectiveTime></serviceEvent></documentationOf>
  {body}
</ClinicalDocument>"""


def cda(narrative: str, *, title: str = "Section d'essai", extra: str = "") -> bytes:
    body = (
        f"<component><structuredBody><component><section><title>{title}</title>"
        f"<text>{narrative}</text>{extra}</section></component></structuredBody></component>"
    )
    return HEADER.replace("{body}", body).encode("utf-8")


def narrative_texts(path: Path) -> tuple[list[str], list[str]]:
    """The section titles and the table cells' texts of an example, read with lxml on their own."""
    doc = etree.parse(str(path))
    ns = {"v": V3}
    titles = [" ".join("".join(t.itertext()).split()) for t in doc.iterfind(".//v:section/v:title", ns)]
    cells = [" ".join("".join(c.itertext()).split()) for c in doc.iterfind(".//v:section/v:text//v:td", ns)]
    return [t for t in titles if t], [c for c in cells if c]


def safe(markup: str) -> None:
    assert set(tags_of(markup)) <= ALLOWED_TAGS
    assert markup.count("<style>") == 1 and STYLE in markup  # the one fixed style sheet
    lowered = markup.lower()
    for forbidden in ("<script", "javascript:", "onclick", "onerror", "href=", "<a ", "<iframe", "http://"):
        assert forbidden not in lowered, forbidden
    for source in etree.HTML(markup).iter("img"):
        assert source.get("src", "").startswith("cda-media:")


def test_the_examples_are_present() -> None:
    names = {p.name for p in STRUCTURED}
    assert {"VSM_1.4_2022.01.xml", "VAC-NOTE_2023.01.xml", "BIO-CR-BIO_2024.01_TSH_1.xml"} <= names
    assert {"VAC_2023.01.xml", "IPS-FR_2024.01.xml"} <= names
    assert len(LEVEL_1) == 3


@pytest.mark.parametrize("path", STRUCTURED, ids=lambda p: p.name)
def test_every_structured_example_renders_its_titles_and_cells(path: Path) -> None:
    rendered = render(path.read_bytes())
    assert rendered.structured and not rendered.truncated
    titles, cells = narrative_texts(path)
    assert titles or path.name.startswith("BIO"), "the examples have titled sections"
    assert cells
    text = " ".join(rendered.text.split())
    for expected in titles + cells:
        assert expected in text, expected
    safe(rendered.html)
    document = etree.HTML(rendered.html)
    html_text = " ".join("".join(document.itertext()).split())
    for expected in titles + cells[:50]:
        assert expected in html_text, expected


@pytest.mark.parametrize("path", LEVEL_1, ids=lambda p: p.name)
def test_a_level_1_example_renders_its_header_and_names_its_body(path: Path) -> None:
    rendered = render(path.read_bytes())
    assert not rendered.structured
    assert rendered.body_media_type == "application/pdf"
    assert "Corps du document : fichier joint (application/pdf)" in rendered.text
    assert "Patient" in rendered.text and "Nom de naissance" in rendered.text
    assert len(rendered.html) < 20_000  # the base64 body is never copied into the rendering
    safe(rendered.html)
    safe(rendered.header_html)
    assert "Nom de naissance" in rendered.header_html and "<h1>" not in rendered.header_html


def test_the_header_in_french_with_the_strict_traits() -> None:
    text = render(cda("<paragraph>Rien</paragraph>")).text
    for line in (
        "Nom de naissance : DURAND",
        "Prénom(s) de naissance : CLAIRE MARIE",
        "Premier prénom de naissance : CLAIRE",
        "Date de naissance : 14/05/2007",
        "Sexe : Féminin",
        "Lieu de naissance (code INSEE) : 85756",
        "INS : 207058575627097 — INS-NIR [TEST], OID 1.2.250.1.213.1.4.10",
        "Type de document : Synthèse médicale (60591-5)",
        "Date de création : 07/12/2026 10:15 (+0100)",
        "Date de l'acte : du 01/12/2026 au 07/12/2026",
        "Auteur : CLAIRE MEDECIN-GENERALISTE, Médecine générale (G15_10/SM54), Cabinet du bac à sable "
        "(499900012341001) — le 07/12/2026 10:15 (+0100)",
        "Structure conservant le document : Hébergeur d'essai (1990000017)",
        "Responsable du document : PAUL RESPONSABLE — le 07/12/2026 11:00 (+0100)",
        "Version : 2",
        "Nom et prénom utilisés : MARTIN",
    ):
        assert line in text, line


def test_a_document_without_ins_says_so() -> None:
    data = cda("<paragraph>x</paragraph>").replace(b"1.2.250.1.213.1.4.10", b"1.2.3.4.5")
    assert "INS : aucun INS dans le document" in render(data).text


def test_paragraphs_content_styles_breaks_sub_sup() -> None:
    rendered = render(
        cda(
            "<paragraph><caption>Titre</caption>Un <content styleCode='Bold'>gras</content>, "
            "<content styleCode='Italics Underline'>penché souligné</content>, "
            "<content styleCode='Emphasis'>appuyé</content><br/>H<sub>2</sub>O m<sup>2</sup></paragraph>"
        )
    )
    assert "<b>Titre</b>" in rendered.html
    assert "<b>gras</b>" in rendered.html
    assert (
        "<i><u>penché souligné</u></i>" in rendered.html or "<u><i>penché souligné</i></u>" in rendered.html
    )
    assert "<em>appuyé</em>" in rendered.html
    assert "<br/>H<sub>2</sub>O m<sup>2</sup>" in rendered.html
    assert "Un gras, penché souligné, appuyé\nH2O m^2" in rendered.text


def test_lists_ordered_and_unordered() -> None:
    rendered = render(
        cda(
            "<list><item>pomme</item><item>poire</item></list>"
            "<list listType='ordered' styleCode='LittleRoman'><caption>Étapes</caption>"
            "<item>un</item><item><paragraph>deux</paragraph><list><item>deux bis</item></list></item></list>"
        )
    )
    assert "<ul><li><p>pomme</p></li><li><p>poire</p></li></ul>" in rendered.html
    assert '<ol type="i">' in rendered.html and "<b>Étapes</b>" in rendered.html
    assert "- pomme\n- poire" in rendered.text
    assert "1. un\n2. deux\n   - deux bis" in rendered.text


def test_tables_with_parts_caption_and_bounded_spans() -> None:
    rendered = render(
        cda(
            "<table border='1'><caption>Résultats</caption>"
            "<tfoot><tr><td colspan='2'>pied</td></tr></tfoot>"
            "<thead><tr><th>Examen</th><th>Valeur</th></tr></thead>"
            "<tbody><tr><td rowspan='2' align='right'>CRP</td><td colspan='999999'>3 mg/L</td></tr>"
            "<tr><td colspan='-4' align='javascript:x'>4 mg/L</td></tr></tbody></table>"
        )
    )
    assert "<caption><b>Résultats</b></caption>" in rendered.html
    assert "<th><p><b>Examen</b></p></th>" in rendered.html
    assert '<td rowspan="2" align="right"><p>CRP</p></td>' in rendered.html
    assert '<td colspan="50"><p>3 mg/L</p></td>' in rendered.html  # bounded
    assert "<td><p>4 mg/L</p></td>" in rendered.html  # a bad span or alignment is dropped
    # thead first, tfoot last, whatever the document's order
    assert rendered.text.index("| Examen | Valeur |") < rendered.text.index("| CRP | 3 mg/L |")
    assert rendered.text.index("| 4 mg/L |") < rendered.text.index("| pied |")


def test_footnotes_and_links_as_text() -> None:
    rendered = render(
        cda(
            "<paragraph>Dose<footnote ID='n1'>selon le poids</footnote> revue<footnoteRef IDREF='n1'/>. "
            "Voir <linkHtml href='https://example.org/reco'>la recommandation</linkHtml> et "
            "<linkHtml href='javascript:alert(1)'>ceci</linkHtml>.</paragraph>"
        )
    )
    assert "Dose^1 revue^1" in rendered.text  # the footnoteRef names footnote n1
    assert "Notes" in rendered.text and "1. selon le poids" in rendered.text
    assert "la recommandation[lien non suivi : https://example.org/reco]" in rendered.text
    assert "ceci[lien non suivi]" in rendered.text
    assert "<u>la recommandation</u>" in rendered.html and "href" not in rendered.html
    assert "javascript" not in rendered.html


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def media(ident: str, value: str) -> str:
    return (
        f"<entry><observationMedia classCode='OBS' moodCode='EVN' ID='{ident}'>{value}"
        "</observationMedia></entry>"
    )


def test_render_multimedia_inline_images_only() -> None:
    png = base64.b64encode(PNG).decode()
    extra = (
        media("img1", f"<value mediaType='image/png' representation='B64'>{png}</value>")
        + media(
            "img2", "<value mediaType='image/png'><reference value='https://evil.example/x.png'/></value>"
        )
        + media("img3", f"<value mediaType='application/pdf' representation='B64'>{png}</value>")
        + media("img4", f"<value mediaType='image/jpeg' representation='B64'>{png}</value>")
    )
    rendered = render(
        cda(
            "<renderMultiMedia referencedObject='img1'><caption>Radio</caption></renderMultiMedia>"
            "<renderMultiMedia referencedObject='img2'/><renderMultiMedia referencedObject='img3'/>"
            "<renderMultiMedia referencedObject='img4'/><renderMultiMedia referencedObject='absent'/>",
            extra=extra,
        )
    )
    assert rendered.images == {"cda-media:1": ("image/png", PNG)}
    assert '<img src="cda-media:1"/><i>Radio</i>' in rendered.html
    assert f"[{EXTERNAL}]" in rendered.text
    assert "[pièce jointe non affichée (application/pdf)]" in rendered.text
    assert "[image illisible]" in rendered.text  # a PNG declared as JPEG
    assert "[image absente du document]" in rendered.text
    assert "evil.example" not in rendered.html
    safe(rendered.html)


def test_nested_sections_become_lower_headings() -> None:
    inner = "<component><section><title>Fille</title><text>texte fille</text></section></component>"
    rendered = render(cda("texte mère", title="Mère", extra=inner))
    assert "<h2>Mère</h2><p>texte mère</p><h3>Fille</h3><p>texte fille</p>" in rendered.html


def test_a_section_without_title_takes_its_code_name() -> None:
    body = (
        "<component><structuredBody><component><section><code code='18719-5' displayName='Biochimie'/>"
        "<text>x</text></section></component></structuredBody></component>"
    )
    assert "<h2>Biochimie</h2>" in render(HEADER.replace("{body}", body).encode()).html


@pytest.mark.parametrize(
    "data",
    [b"", b"not xml", b"<a>unclosed", b'<?xml version="1.0"?><root xmlns="urn:other"/>', b"\xff\xfe\x00"],
)
def test_what_is_not_a_cda_is_a_project_error(data: bytes) -> None:
    with pytest.raises(CdaNotRenderable) as raised:
        render(data)
    assert raised.value.code == "DMP-CDA-NON-AFFICHABLE"


def test_comments_and_processing_instructions_are_never_shown() -> None:
    rendered = render(cda("avant<!-- secret du rédacteur --><?pi interne?>après"))
    assert "secret" not in rendered.text and "interne" not in rendered.text
    assert "avantaprès" in rendered.text


def test_truncation_note_is_in_french() -> None:
    assert TRUNCATED == "contenu tronqué"


def test_a_cda_about_another_patient_is_refused_whole() -> None:
    data = cda("<paragraph>secret</paragraph>")
    ours = Ins.parse("207058575627097", "1.2.250.1.213.1.4.10")
    assert "secret" in render(data, patient=ours).text
    other = Ins.parse("150081505104018", "1.2.250.1.213.1.4.10")
    with pytest.raises(OtherPatientAnswer) as raised:
        render(data, patient=other)
    assert "INS du patient demandé" in str(raised.value) and "secret" not in str(raised.value)
    same_number_other_oid = Ins.parse("207058575627097", "1.2.250.1.213.1.4.11")  # NIR de démonstration
    with pytest.raises(OtherPatientAnswer):
        render(data, patient=same_number_other_oid)


def test_ins_from_an_xds_patient_id() -> None:
    ins = ins_from_cx("207058575627097^^^&1.2.250.1.213.1.4.10&ISO^NH")
    assert ins is not None and ins.matricule.value == "207058575627097"
    assert ins_from_cx("") is None and ins_from_cx("garbage") is None


@pytest.mark.parametrize("path", STRUCTURED + LEVEL_1, ids=lambda p: p.name)
def test_the_body_kind_is_read_from_the_head(path: Path) -> None:
    with path.open("rb") as source:
        assert has_structured_body(source) == (path not in LEVEL_1)


def test_the_body_kind_refuses_what_is_not_a_cda() -> None:
    with pytest.raises(CdaNotRenderable):
        has_structured_body(io.BytesIO(b"<html/>"))
    with pytest.raises(CdaNotRenderable):
        has_structured_body(io.BytesIO(b"<ClinicalDocument xmlns='urn:hl7-org:v3'><unclosed>"))
    with pytest.raises(HostileXml):
        has_structured_body(io.BytesIO(b"<!DOCTYPE x []><ClinicalDocument xmlns='urn:hl7-org:v3'/>"))
    assert not has_structured_body(io.BytesIO(b"<ClinicalDocument xmlns='urn:hl7-org:v3'/>"))
