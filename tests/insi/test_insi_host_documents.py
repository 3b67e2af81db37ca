"""The sandbox INSi host's protocol constants point at the documents: the WSDL DESIR_ICIR_EXP_1.5.0
(resources/spec/insi/) and the public example answers of padoa/tlsi-ins (tests/insi/fixtures/)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from sandbox.insi import schemas, server
from sandbox.insi.server import InsiConfig, InsiHost, serve_in_thread
from tests.insi import insi_host_helpers as h

SPEC = Path(__file__).resolve().parents[2] / "resources" / "spec" / "insi"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP12_WSDL = "http://schemas.xmlsoap.org/wsdl/soap12/"
WSAW = "http://www.w3.org/2006/02/addressing/wsdl"


@pytest.fixture(scope="module")
def wsdl() -> etree._Element:
    return etree.parse(str(SPEC / "DESIR_ICIR_EXP_1.5.0.wsdl")).getroot()


def test_soap_actions_and_output_actions_are_the_wsdl_ones(wsdl: etree._Element) -> None:
    binding = {
        op.get("name"): op.find(f"{{{SOAP12_WSDL}}}operation").get("soapAction")
        for op in wsdl.iter(f"{{{WSDL}}}operation")
        if op.find(f"{{{SOAP12_WSDL}}}operation") is not None
    }
    assert binding == {
        "rechercherInsAvecCarteVitale": server.ACTION_VITALE,
        "rechercherInsAvecTraitsIdentite": server.ACTION_TRAITS,
    }
    outputs = {
        o.get(f"{{{WSAW}}}Action") for o in wsdl.iter(f"{{{WSDL}}}output") if o.get(f"{{{WSAW}}}Action")
    }
    assert outputs == {server.ACTION_TRAITS + "Response", server.ACTION_VITALE + "Response"}


def test_body_elements_and_namespaces_are_the_wsdl_parts(wsdl: etree._Element) -> None:
    parts = {}
    for message in wsdl.iter(f"{{{WSDL}}}message"):
        for part in message.iter(f"{{{WSDL}}}part"):
            prefix, _, local = part.get("element").partition(":")
            parts[part.get("name")] = (part.nsmap[prefix], local)
    assert parts["rechercherInsAvecTraitsIdentite"] == (schemas.RECSANS, "RECSANSVITALE")
    assert parts["rechercherInsAvecCarteVitale"] == (schemas.RECVIT, "RECVITALE")
    assert parts["rechercherInsAvecTraitsIdentiteResponse"] == (schemas.RESULTAT, "RESULTAT")
    assert parts["NO1_ContexteLPS"] == (schemas.CTXLPS, "ContexteLPS")
    assert parts["NO1_ContexteBAM"] == (schemas.CTXBAM, "ContexteBAM")
    assert parts["NO1_Security"] == (server.WSSE, "Security")
    assert parts["Erreur"] == (schemas.SIRAM, "Erreur")
    for action, local in server.ACTIONS.items():
        assert (server.BODY_NS[action], local) == parts[action.rsplit(":", 1)[1]]


def test_endpoint_path_is_the_wsdl_address(wsdl: etree._Element) -> None:
    address = next(wsdl.iter(f"{{{SOAP12_WSDL}}}address")).get("location")
    assert address.endswith(server.PATH)


def test_schema_files_are_the_ones_the_wsdl_imports(wsdl: etree._Element) -> None:
    imports = {
        i.get("namespace"): i.get("schemaLocation")
        for i in wsdl.iter("{http://www.w3.org/2001/XMLSchema}import")
    }
    for namespace, relative in schemas.FILES.items():
        assert imports[namespace] == relative
        assert (SPEC / relative).is_file()


# --- the host's answers have the shape of the published ones ---------------------------------------


def shape(node: etree._Element, prefix: str = "") -> list[str]:
    """Element paths (namespace-qualified), in document order, without repetitions."""
    out: list[str] = []
    for child in node:
        if not isinstance(child.tag, str):
            continue
        path = f"{prefix}/{child.tag}"
        if path not in out:
            out.append(path)
        out.extend(p for p in shape(child, path) if p not in out)
    return out


def example(name: str) -> etree._Element:
    root = etree.parse(str(FIXTURES / name)).getroot()
    return next(root.iter("{http://www.cnamts.fr/INSiResultat}RESULTAT"))


@pytest.fixture
def insi(pki_dir: Path) -> Iterator[InsiHost]:
    host = InsiHost(("127.0.0.1", 0), InsiConfig(pki_dir / "pki"))
    serve_in_thread(host)
    yield host
    host.shutdown()
    host.server_close()


@pytest.fixture
def org(pki_dir: Path) -> ssl.SSLContext:
    folder = pki_dir / "pki"
    return h.client_context(
        folder / "trust-bundle.pem", folder / "structure-auth.pem", folder / "structure-auth.key"
    )


def answer(insi: InsiHost, ctx: ssl.SSLContext, body: str) -> etree._Element:
    got = h.post(insi.server_address[1], ctx, h.envelope(body))
    assert got.status == 200
    return got.body_child()


def test_01_answer_is_shaped_and_worded_as_rep_cr01(insi: InsiHost, org: ssl.SSLContext) -> None:
    mine = answer(insi, org, h.traits_body("INCONNU", ["X"], "M", "2000-01-01"))
    published = example("REP_CR01.xml")
    assert shape(mine) == shape(published)
    for name in ("CodeCR", "LibelleCR"):
        path = f"{{http://www.cnamts.fr/INSiResultat}}CR/{{http://www.cnamts.fr/INSiResultat}}{name}"
        assert mine.findtext(path) == published.findtext(path)


def test_02_answer_is_worded_as_the_recorded_cr02(insi: InsiHost, org: ssl.SSLContext) -> None:
    mine = answer(insi, org, h.traits_body("MARTIN", ["LOUIS"], "M", "1972-02-29"))
    published = example("REP_CR02_insi-client.fixture.xml")
    assert shape(mine) == shape(published)
    path = "{http://www.cnamts.fr/INSiResultat}CR/{http://www.cnamts.fr/INSiResultat}LibelleCR"
    assert mine.findtext(path) == published.findtext(path) == "Plusieurs identites trouvees"


def test_00_answer_has_the_elements_of_the_recorded_answers(insi: InsiHost, org: ssl.SSLContext) -> None:
    # TEST_2.04_cas2: INSHISTO with TypeMatricule, TIQ without Prenom; TEST_2.08_cas1: TIQ with Prenom.
    published = set(shape(example("TEST_2.04_cas2.xml"))) | set(shape(example("TEST_2.08_cas1.xml")))
    with_history = answer(insi, org, h.traits_body("NGUYEN", ["VAN"], "M", "1969-03-00"))
    assert set(shape(with_history)) == published
    without = answer(insi, org, h.traits_body("DURAND", ["CLAIRE"], "F", "2007-05-14"))
    assert shape(without) == shape(example("ADRTROIS_DOMINIQUE_insi-client.fixture.xml"))


def test_the_insi_host_is_under_the_no_shared_protocol_code_contract() -> None:
    import tomllib

    pyproject = tomllib.loads((SPEC.parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(
        c
        for c in pyproject["tool"]["importlinter"]["contracts"]
        if c["name"].startswith("The sandbox host shares no protocol code")
    )
    assert "sandbox.insi" in contract["source_modules"]
    for module in (Path(server.__file__).parent).glob("*.py"):
        text = module.read_text(encoding="utf-8")
        assert "from app" not in text and "import app" not in text, module.name
