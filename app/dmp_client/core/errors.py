"""Protocol errors: what we built wrong (local, a bug: never retried) versus what the host said."""

from __future__ import annotations

from app.errors import DmpClientError


class ProtocolError(DmpClientError):
    code = "DMP-PROTOCOLE"
    user_message = "Échange avec le DMP impossible à interpréter."


class LocalProtocolError(ProtocolError):
    """The client was about to send something invalid: a programming or configuration error."""

    code = "DMP-REQUETE-INVALIDE"
    user_message = "La requête préparée pour le DMP est invalide (erreur du logiciel)."


class MalformedResponse(ProtocolError):
    """The host's answer cannot be read: not XML, hostile XML, or missing the expected parts."""

    code = "DMP-REPONSE-ILLISIBLE"
    user_message = "La réponse du DMP est illisible ou incomplète."


class HostileXml(MalformedResponse):
    code = "DMP-XML-REFUSE"
    user_message = "La réponse du DMP a été refusée : XML dangereux (DTD, entités) ou trop volumineux."


class RemoteError(ProtocolError):
    """The host answered with an error (SOAP fault, HL7 AE/AR, XDS RegistryError, DMP status)."""

    code = "DMP-ERREUR-HOTE"

    def __init__(self, dmp_code: str, reason: str, *, subcode: str | None = None) -> None:
        self.dmp_code = dmp_code
        self.reason = reason
        self.subcode = subcode
        known = KNOWN_CODES.get(subcode or "") or KNOWN_CODES.get(dmp_code)
        if known and reason and reason not in known:
            message = f"{known} Motif donné par le DMP : {reason}"
        else:
            message = known or f"Le DMP a refusé la demande : {reason or dmp_code}"
        super().__init__(message, code=f"DMP:{subcode or dmp_code}")


class SoapFault(RemoteError):
    """A SOAP fault, whatever its shape (SOAP 1.2, SOAP 1.1 inside 1.2, with HTTP 200 or 500)."""


# French messages for the DMP codes that are known (dmp-interface.md §12); others show the host's text.
KNOWN_CODES = {
    "DMPAccessDeniedByRightsService": "Accès refusé par la matrice des droits du DMP.",
    "DMPInvalidCertificate": (
        "Le certificat qui signe le jeton VIHF n'est pas un certificat de signature valide."
    ),
    "DMPClosed": "Le DMP de ce patient est fermé.",
    "DMPFound": "Un DMP existe déjà pour ce patient.",
    "DMPNotFound": "Ce patient n'a pas de DMP.",
    "DMPPatientOpposition": "Le patient s'est opposé à cet accès à son DMP.",
    "DMPVihfInvalid": "Le jeton d'identification (VIHF) a été refusé par le DMP.",
    "XDSDocumentUniqueIdError": "Document inconnu du DMP (identifiant unique).",
    "XDSUnknownPatientId": "Patient inconnu du DMP.",
    "XDSPatientIdDoesNotMatch": (
        "L'identifiant patient du document ne correspond pas à celui de la soumission."
    ),
    "XDSRegistryMetadataError": "Métadonnées du document refusées par le DMP.",
    "XDSRepositoryMetadataError": "Métadonnées du document refusées par l'entrepôt du DMP.",
    "XDSNonIdenticalHash": "Le document reçu par le DMP ne correspond pas à celui envoyé.",
    "XDSDuplicateUniqueIdInRegistry": (
        "Ce document a déjà été déposé dans le DMP (identifiant unique en double)."
    ),
}


class OtherPatientAnswer(ProtocolError):
    """Identity vigilance: an answer describes another patient's document, or a document that was not
    asked for. The whole answer is refused: nothing of it is shown, cached, queued or acted on."""

    code = "DMP-REPONSE-AUTRE-PATIENT"
    user_message = (
        "Le DMP a répondu pour un autre patient ou un autre document que celui demandé : "
        "la réponse entière a été écartée (vigilance sur l'identité)."
    )


class AlteredDocument(ProtocolError):
    """The retrieved bytes are not those registered (size, SHA-1, ids), or the document is empty."""

    code = "DMP-DOCUMENT-ALTERE"
    user_message = (
        "Le document reçu du DMP ne correspond pas à celui enregistré (taille, empreinte ou "
        "identifiant) ou est vide : il a été écarté et n'a pas été enregistré."
    )


class MtomRefused(MalformedResponse):
    """An MTOM (multipart/related) answer beyond a bound: too many parts, header block, preamble,
    epilogue or padding too long, an attachment too large, a duplicate part. Refused whole."""

    code = "DMP-MTOM-REFUSE"
    user_message = (
        "La réponse MTOM du DMP a été refusée : sa structure dépasse les limites admises "
        "(nombre de parties, en-têtes, pièce jointe ou octets superflus)."
    )


class SpoolFailure(DmpClientError):
    """A received attachment could not be written to its temporary file (disk full, no descriptor)."""

    code = "DMP-FICHIER-TEMPORAIRE"
    user_message = (
        "Le document reçu du DMP n'a pas pu être écrit dans un fichier temporaire "
        "(disque plein ou trop de fichiers ouverts)."
    )


class UncertainOutcome(MalformedResponse):
    """An unexpected or unreadable answer to a non-idempotent request (ITI-41, ITI-57): the host may
    have applied the change. Check by query before sending again; never assume nothing happened."""

    code = "DMP-ISSUE-INCERTAINE"
    user_message = (
        "La réponse du DMP est inattendue ou illisible : la modification a peut-être été appliquée. "
        "Vérifiez la liste des documents du patient avant de recommencer."
    )
    cli_hint = "Pour vérifier : dmp find --ins <INS du patient> (liste des documents du DMP)."


class InsiError(ProtocolError):
    """Root of the INSi teleservice's protocol errors (app/dmp_client/core/insi.py)."""

    code = "INSI-PROTOCOLE"
    user_message = "Échange avec le téléservice INSi impossible à interpréter."


class InsiRequestInvalid(InsiError):
    """The INSi request about to be sent is invalid: missing or malformed context or traits."""

    code = "INSI-REQUETE-INVALIDE"
    user_message = "La requête préparée pour le téléservice INSi est invalide."


class InsiMalformedResponse(InsiError):
    """INSi's answer cannot be read: not XML, not SOAP, not a RESULTAT, or incoherent."""

    code = "INSI-REPONSE-ILLISIBLE"
    user_message = "La réponse du téléservice INSi est illisible ou incohérente : elle a été écartée."


class InsiHostileXml(InsiMalformedResponse):
    code = "INSI-XML-REFUSE"
    user_message = (
        "La réponse du téléservice INSi a été refusée : XML dangereux (DTD, entités) ou trop volumineux."
    )


class InsiFault(InsiError):
    """INSi answered with a SOAP fault (its siram:Erreur code, or the SOAP code, kept as host_code)."""

    code = "INSI-REFUS"
    user_message = "Le téléservice INSi a refusé la demande."

    def __init__(self, host_code: str, reason: str) -> None:
        self.host_code = host_code
        self.reason = reason
        detail = " ".join(part for part in (host_code and f"code {host_code}", reason) if part)
        super().__init__(f"{self.user_message} ({detail})" if detail else None)


class InsiUnknownReport(InsiMalformedResponse):
    """A CodeCR other than 00, 01, 02: nothing of the answer is used."""

    code = "INSI-CR-INCONNU"
    user_message = "Le téléservice INSi a rendu un compte rendu inconnu : la réponse a été écartée."

    def __init__(self, report: str, label: str) -> None:
        self.report = report
        self.label = label
        super().__init__(f"{self.user_message} (code {report}{f' : {label}' if label else ''})")


class InsiVitaleObsolete(InsiRequestInvalid):
    """The Vitale read is older than 20 minutes (issue 17, RNIV): read the card again."""

    code = "INSI-VITALE-PERIMEE"
    user_message = (
        "La lecture de la carte Vitale date de plus de 20 minutes : relisez la carte avant d'interroger INSi."
    )


class InsiOtherPerson(InsiMalformedResponse):
    """Identity vigilance: the identity INSi returned for a Vitale beneficiary does not have the
    beneficiary's birth date. Nothing of it is shown or kept."""

    code = "INSI-AUTRE-PERSONNE"
    user_message = (
        "L'identité renvoyée par INSi ne correspond pas au bénéficiaire choisi sur la carte Vitale "
        "(date de naissance différente) : elle a été écartée."
    )


class StructuredHandoffInvalid(DmpClientError):
    """The EHR's hand-off for a structured document (VSM, vaccination note) is unreadable or
    incomplete: nothing is built or sent (the message names the field)."""

    code = "DMP-DONNEES-STRUCTUREES"
    user_message = "Les données transmises par le logiciel métier pour le document structuré sont invalides."


class StructuredHandoffOtherPatient(StructuredHandoffInvalid):
    """The hand-off names a patient other than the one the document is sent for (identity
    vigilance): nothing is built or sent."""

    code = "DMP-DONNEES-AUTRE-PATIENT"
    user_message = (
        "Les données du logiciel métier concernent un autre patient que celui choisi : "
        "aucun document n'a été préparé ni envoyé (vigilance sur l'identité)."
    )


class CdaNotRenderable(ProtocolError):
    """A received CDA cannot be rendered as text: not XML, not a CDA, too large or nested beyond the
    parser's bound (app/dmp_client/core/cda_render.py). Hostile XML stays :class:`HostileXml`."""

    code = "DMP-CDA-NON-AFFICHABLE"
    user_message = "Le document CDA ne peut pas être affiché (illisible, trop volumineux ou trop imbriqué)."


class PscError(DmpClientError):
    """Pro Santé Connect (e-CPS, OpenID Connect CIBA): the root of the provider's refusals and of
    answers that cannot be trusted (app/dmp_client/core/psc.py, docs/authentication.md)."""

    code = "PSC-ERREUR"
    user_message = "La connexion e-CPS (Pro Santé Connect) a échoué."


class PscRefused(PscError):
    """CIBA ``access_denied``: the professional refused the request on the phone (or the card)."""

    code = "PSC-REFUS"
    user_message = "Connexion e-CPS refusée par le professionnel sur son téléphone (ou sa carte)."


class PscExpired(PscError):
    """CIBA ``expired_token``, or ``expires_in`` elapsed: nobody approved the request in time."""

    code = "PSC-EXPIRE"
    user_message = "La demande de connexion e-CPS a expiré sans être validée : recommencez."


class PscUnknownProfessional(PscError):
    """CIBA ``unknown_user_id``: Pro Santé Connect knows no e-CPS for this RPPS identifier."""

    code = "PSC-PRO-INCONNU"
    user_message = (
        "Professionnel inconnu de Pro Santé Connect (identifiant RPPS) ou sans e-CPS active : "
        "vérifiez l'identifiant."
    )


class PscInvalidToken(PscError):
    """An ID token or userinfo that fails validation (signature against the JWKS, issuer, audience,
    expiry, CIBA request id): nothing of it is used."""

    code = "PSC-JETON-INVALIDE"
    user_message = (
        "Le jeton de Pro Santé Connect a été refusé (signature, émetteur, destinataire ou validité) : "
        "connexion interrompue."
    )


class PscMalformedResponse(PscError):
    """Pro Santé Connect answered something that is not the JSON the protocol describes."""

    code = "PSC-REPONSE-ILLISIBLE"
    user_message = "La réponse de Pro Santé Connect est illisible ou incomplète."


class PscRequestRefused(PscError):
    """Any other OAuth/CIBA error (``invalid_request``, ``invalid_scope``, ``invalid_binding_message``…)."""

    code = "PSC-DEMANDE-REFUSEE"
    user_message = "Pro Santé Connect a refusé la demande de connexion."


class PscClientRefused(PscError):
    """``invalid_client`` / ``unauthorized_client``: the software's own authentication (client id,
    structure certificate or client secret) was refused."""

    code = "PSC-CLIENT-REFUSE"
    user_message = (
        "Pro Santé Connect refuse l'authentification du logiciel (identifiant client, certificat de la "
        "structure ou secret) : vérifiez les réglages DMP_PSC_*."
    )


class PscBadRpps(PscError):
    """The professional's identifier is not an RPPS national id (``8`` followed by 11 digits)."""

    code = "PSC-RPPS-INVALIDE"
    user_message = "L'identifiant du professionnel doit être son n° RPPS national : « 8 » et 11 chiffres."


class PscNoSituation(PscError):
    """The userinfo names no exercise with a structure, or not the one asked for: no AIR VIHF."""

    code = "PSC-EXERCICE-ABSENT"
    user_message = (
        "Pro Santé Connect ne donne aucune situation d'exercice (structure, secteur) utilisable pour "
        "ce professionnel."
    )


class ConsultationNeedsStrongAuth(DmpClientError):
    """dmp-interface.md §3.1: with the structure's certificate alone (plain indirect mode) the DMP
    refuses consultation (TD3.1 beyond "find a reference", TD3.2): refused before sending."""

    code = "DMP-CONSULTATION-MODE-STRUCTURE"
    user_message = (
        "La consultation du DMP est impossible avec le seul certificat de la structure : connectez-vous "
        "avec la carte CPS ou avec e-CPS (authentification indirecte renforcée, AIR)."
    )


class AirTransactionRefused(DmpClientError):
    """An AIR (e-CPS) session is for consultation only (the "Consultation" profile): anything else
    is refused before sending (the allowed list is the setting DMP_AIR_TRANSACTIONS)."""

    code = "DMP-AIR-HORS-CONSULTATION"
    user_message = (
        "Une session e-CPS (AIR) ne permet que la consultation du DMP : pour alimenter ou gérer le DMP, "
        "connectez-vous avec la carte CPS ou le certificat de la structure."
    )
