"""``dmp demo``: the product's main job run against the embedded sandbox.

Today it identifies every sandbox patient as the client will before any DMP exchange: the INS
checked and formatted for XDS/VIHF (CX) and CDA (HL7v3), the INS traits checked against what the
matricule encodes, and the legacy INS-C computed from the (virtual) Vitale data where the
beneficiary's own NIR is on the card.
"""

from __future__ import annotations

import argparse
import os
from typing import TextIO

from app.card import pkcs11_module
from app.card.pcsc import list_readers
from app.card.session import CardSession
from app.card.vitale import SandboxVitaleCard
from app.errors import USER_FACING_ERRORS
from app.ins import IdentityTraits, Ins, InsError, compute_insc
from sandbox.patients import SandboxPatient, load_patients


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser("demo", help="démonstration sur le bac à sable (patients fictifs)")
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    status = _patients(out)
    if os.environ.get(pkcs11_module.ENV_VARIABLE):
        _cards(out)
    else:
        print("\n(banc de cartes non monté : « make run » le monte avant la démonstration)", file=out)
    return status


def _cards(out: TextIO) -> None:
    """The virtual readers, the CPS holder (public data, no PIN) and the Vitale card's beneficiaries."""
    print("\nCartes (banc virtuel : pcscd + lecteurs vpcd + jetons SoftHSM2)", file=out)
    try:
        for reader in list_readers():
            print(f"  {reader.name} : {reader.label}", file=out)
        session = CardSession(pkcs11_module.discover())
        try:
            who = session.professional()
        finally:
            session.close()
        specialty = f", spécialité {who.specialty_code}" if who.specialty_code else ""
        print(
            f"  CPS : {who.display_name}, {who.profession_label}{specialty}, id. {who.national_id}", file=out
        )
        for b in SandboxVitaleCard().beneficiaries():
            insc = b.insc()
            print(
                f"  Vitale rang {b.rank} : {b.first_name}, INS-C {insc.value if insc else 'non calculable'}",
                file=out,
            )
    except USER_FACING_ERRORS as error:
        print(f"  ERREUR: {error}", file=out)


def _patients(out: TextIO) -> int:
    patients = load_patients()
    print("Bac à sable DMP : patients fictifs (INS de test, OID 1.2.250.1.213.1.4.10)\n", file=out)
    failures = 0
    for patient in patients:
        try:
            _show(patient, out)
        except InsError as error:
            failures += 1
            print(f"{patient.id} : identité refusée : {error}\n", file=out)
    print(f"{len(patients) - failures}/{len(patients)} identité(s) vérifiée(s).", file=out)
    return 0 if failures == 0 else 1


def _show(patient: SandboxPatient, out: TextIO) -> None:
    ins = Ins.parse(patient.matricule, patient.oid)
    traits = IdentityTraits.parse(
        patient.birth_name, patient.first_names, patient.sex, patient.birth_date, patient.birth_place
    )
    print(f"{patient.id}  {traits.birth_name} {' '.join(traits.first_names)}", file=out)
    print(
        f"     {traits.sex.value}, né(e) le {traits.birth_date.to_french()}, lieu {traits.birth_place}",
        file=out,
    )
    print(f"     {ins.oid.label} : {ins.matricule.grouped()}", file=out)
    print(f"     XDS/VIHF (CX) : {ins.to_cx()}", file=out)
    print(f"     CDA (HL7v3)   : {ins.to_hl7v3_xml()}", file=out)
    conflicts = traits.inconsistencies_with(ins.matricule)
    if conflicts:
        print(f"     ATTENTION : incohérence avec le matricule ({', '.join(conflicts)})", file=out)
    vitale = patient.vitale
    if vitale.nir_own:
        insc = compute_insc(vitale.first_name, vitale.birth_date, vitale.nir_own)
        print(f"     INS-C (Vitale, rang {vitale.rank}) : {insc.value}", file=out)
    else:
        print(
            f"     INS-C : non calculable (rang {vitale.rank} : le NIR propre du bénéficiaire "
            "n'est pas sur la carte)",
            file=out,
        )
    print(file=out)
