"""The sandbox PSC provider's professionals: the holders of the virtual CPS cards, as PSC knows them.

Pro Santé Connect's UserInfo (the shape here) is not specified in a public document; it is taken
from public examples of real PSC answers: the ANS DRIMbox (``ansforge/DRIM-M_DRIMbox``, its tests'
userinfo and ``dmp`` request code, which picks the situation by ``ancienIdentifiantDeLaStructure``)
and other public PSC integrations' test fixtures (``SubjectNameID``, ``SubjectRefPro.exercices[]``
with ``activities[]``, ``Secteur_Activite``, ``SubjectRole``, ``Palier_Authentification``...).
Which of the activity's identifiers is the VIHF's ``Identifiant_Structure`` is [UNSURE]: the
sandbox puts the card situation's Struct_IdNat in ``ancienIdentifiantDeLaStructure`` (as DRIMbox
reads it) and a technical ``R…`` identifier in ``identifiantTechniqueDeLaStructure``.

Only card holders with an RPPS-shaped national id ("8" + 11 digits) and a profession are in the
directory: the CPE secretary (id "3…") is not a PSC professional, and ``UNKNOWN_ID`` is a
well-formed id that nobody holds (the provider answers ``unknown_user_id``).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sandbox import cards

NATIONAL_ID = re.compile(r"8\d{11}")
UNKNOWN_ID = "899999999999"  # well formed, in no directory
SECTOR_SYSTEM = "1.2.250.1.71.4.2.4"  # TRE_R02 (dmp-interface.md §4.2)
ROLE_SYSTEM = "1.2.250.1.213.1.1.5.5"  # JDV_J65, as in the public userinfo examples ("10^1.2.250...")
# From the public examples: PSC's authentication level, and the e-CPS "PSI" locale.
PALIER = "APPPRIP3^1.2.250.1.213.1.5.1.1.1"
PSI_LOCALE = "1.2.250.1.213.1.3.1.1"
_SUB_NAMESPACE = uuid.UUID("6a0e6f3e-5b53-4c1f-9d7e-2f3c1a9b8e01")  # sandbox realm (fictitious)


def _professionals() -> dict[str, cards.CardProfile]:
    return {
        c.national_id: c
        for c in cards.load_cards()
        if NATIONAL_ID.fullmatch(c.national_id) and c.profession is not None
    }


def known_ids() -> list[str]:
    return sorted(_professionals())


def find(national_id: str) -> cards.CardProfile | None:
    return _professionals().get(national_id)


def subject(national_id: str) -> str:
    """The ``sub`` claim: PSC's federated subject ``f:<realm uuid>:<id>`` (public examples)."""
    return f"f:{_SUB_NAMESPACE}:{national_id}"


def _technical_id(structure_id: str) -> str:
    return f"R{int(structure_id) % 100000:05d}"


def _activity(situation: cards.Situation, profile: cards.CardProfile) -> dict[str, str]:
    finess = structure_finess(situation.structure_id)
    return {
        "codeModeExercice": situation.mode,
        "codeSecteurDactivite": situation.sector,
        "codeSectionPharmacien": "G" if profile.profession == "21" else "",  # [UNSURE] section
        "codeRole": "",
        "codeGenreActivite": "GENR01",
        "numeroSiretSite": "",
        "numeroSirenSite": "",
        "numeroFinessSite": finess,
        "numeroFinessetablissementJuridique": "",
        "identifiantTechniqueDeLaStructure": _technical_id(situation.structure_id),
        "raisonSocialeSite": situation.name,
        "enseigneCommercialeSite": "",
        "complementDestinataire": "",
        "complementPointGeographique": "",
        "numeroVoie": "1",
        "indiceRepetitionVoie": "",
        "codeTypeDeVoie": "R",
        "libelleVoie": "DU BAC A SABLE",
        "mentionDistribution": "",
        "bureauCedex": "72000 LE MANS",
        "codePostal": "72000",
        "codeCommune": "72181",
        "codePays": "99000",
        "telephone": "",
        "telephone2": "",
        "telecopie": "",
        "adresseEMail": "",
        "codeDepartement": "72",
        "ancienIdentifiantDeLaStructure": situation.structure_id,
        "autoriteDenregistrement": "",
    }


def structure_finess(structure_id: str) -> str:
    """FINESS of an establishment's Struct_IdNat ("1" + FINESS, dmp-interface.md §4.2), else ""."""
    return structure_id[1:] if structure_id.startswith("1") and len(structure_id) == 10 else ""


def userinfo(profile: cards.CardProfile) -> dict[str, Any]:
    """The UserInfo of one professional: one exercise (the card's profession) with one activity
    per card situation; the top-level organisation claims are the first situation's."""
    first = profile.situations[0]
    exercise = {
        "codeProfession": profile.profession or "",
        "codeCategorieProfessionnelle": "C",  # civil, as in the public examples
        "codeCiviliteDexercice": "",
        "nomDexercice": profile.surname,
        "prenomDexercice": profile.given_name,
        "codeTypeSavoirFaire": "S" if profile.specialty and profile.specialty.startswith("SM") else "",
        "codeSavoirFaire": profile.specialty or "",
        "activities": [_activity(s, profile) for s in profile.situations],
    }
    return {
        "sub": subject(profile.national_id),
        "SubjectNameID": profile.national_id,
        "preferred_username": profile.national_id,
        "given_name": profile.given_name,
        "family_name": profile.surname,
        "codeCivilite": "",
        "Secteur_Activite": f"{first.sector}^{SECTOR_SYSTEM}",
        "SubjectOrganization": first.name,
        "SubjectOrganizationID": _technical_id(first.structure_id),
        "SubjectRole": [f"{profile.profession}^{ROLE_SYSTEM}"],
        "SubjectRefPro": {"codeCivilite": "", "exercices": [exercise]},
        "otherIds": [{"identifiant": profile.national_id, "origine": "RPPS", "qualite": 1}],
        "Palier_Authentification": PALIER,
        "PSI_Locale": PSI_LOCALE,
        "Mode_Acces_Raison": "",
        "Acces_Regulation_Medicale": "FAUX",
        "UITVersion": "1.0",
    }
