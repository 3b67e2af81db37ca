"""Transport errors: the host could not be reached, answered too late, or TLS failed."""

from __future__ import annotations

from app.errors import DmpClientError


class TransportError(DmpClientError):
    code = "DMP-RESEAU"
    user_message = "Le DMP ne répond pas."


class HostUnreachable(TransportError):
    code = "DMP-INJOIGNABLE"
    user_message = "Le serveur du DMP est injoignable (réseau, proxy ou serveur arrêté)."


class Timeout(TransportError):
    code = "DMP-DELAI"
    user_message = "Le DMP n'a pas répondu dans le délai prévu."


class TlsError(TransportError):
    code = "DMP-TLS"
    user_message = (
        "La connexion sécurisée avec le DMP a échoué (certificat du serveur ou de la carte refusé)."
    )


class HttpError(TransportError):
    code = "DMP-HTTP"


class ResponseTooLarge(TransportError):
    """More bytes came from the host than one answer may hold: the exchange is abandoned."""

    code = "DMP-REPONSE-TROP-GRANDE"
    user_message = "La réponse du DMP dépasse la taille maximale admise : elle a été abandonnée."

    def __init__(self, max_bytes: int | None = None) -> None:
        if max_bytes is None:
            super().__init__()
        else:
            mib = max_bytes / (1024 * 1024)
            super().__init__(
                f"La réponse du DMP dépasse la taille maximale admise ({mib:g} Mio) : elle a été abandonnée."
            )


class AuthorUnknown(DmpClientError):
    """A document to send has no author: a CPE holder is not one, and in indirect mode the structure
    has no default author unless DMP_STRUCTURE_AUTEUR names one (never the sandbox's)."""

    code = "DMP-AUTEUR"
    user_message = (
        "Auteur du document inconnu : indiquez l'auteur du document, ou, en mode structure, "
        "configurez l'auteur par défaut (réglage DMP_STRUCTURE_AUTEUR, « Auteur par défaut des "
        "documents de la structure »)."
    )


class DmpNotUsable(DmpClientError):
    """The patient's DMP cannot be used for this transaction (also importable from documents.py)."""

    code = "DMP-INDISPONIBLE"
    user_message = "Le DMP de ce patient n'est pas accessible."


class NoDmp(DmpNotUsable):
    code = "DMP-INEXISTANT"
    user_message = "Ce patient n'a pas de DMP."


class DmpClosed(DmpNotUsable):
    code = "DMP-FERME"
    user_message = "Le DMP de ce patient est fermé."


class NotAuthorized(DmpNotUsable):
    code = "DMP-NON-AUTORISE"
    user_message = (
        "Vous n'êtes pas autorisé sur le DMP de ce patient : demandez son accord puis "
        "utilisez « dmp authorize »."
    )


class DocumentUnknown(DmpClientError):
    code = "DMP-DOCUMENT-INCONNU"
    user_message = "Document introuvable dans le DMP."


class ClientConfigError(DmpClientError):
    """What the client is assembled from is missing or unusable (structure certificate, key, author)."""

    code = "DMP-CONFIG"
    user_message = "La configuration de la connexion au DMP est incomplète ou invalide."


class TraceFileError(TransportError):
    code = "DMP-TRACE"
    user_message = "Impossible de créer un fichier de trace unique."


class StructureKeyPasswordMissing(ClientConfigError):
    """The structure's key file is encrypted and no password is stored in the keyring for it."""

    code = "DMP-CLE-MOT-DE-PASSE-ABSENT"
    user_message = (
        "La clé de la structure est chiffrée et son mot de passe n'est pas dans le trousseau du système : "
        "enregistrez-le avec « dmp structure mot-de-passe »."
    )


class StructureKeyPasswordWrong(ClientConfigError):
    """The password from the keyring does not open the structure's key file (or the file is damaged)."""

    code = "DMP-CLE-MOT-DE-PASSE-INCORRECT"
    user_message = (
        "Le mot de passe du trousseau n'ouvre pas la clé de la structure (mot de passe incorrect ou fichier "
        "endommagé) : enregistrez le bon avec « dmp structure mot-de-passe »."
    )


class InsiNotConfigured(ClientConfigError):
    """No INSi address is configured (DMP_INSI_URL), or the INSi context is incomplete."""

    code = "INSI-NON-CONFIGURE"
    user_message = (
        "Le téléservice INSi n'est pas configuré : renseignez son adresse (réglage DMP_INSI_URL, "
        "« Adresse du téléservice INSi ») et le numéro d'autorisation CNDA (DMP_INSI_IDAM)."
    )


class InsiUnreachable(TransportError):
    """The INSi teleservice cannot be reached (connection refused or cut, TLS failure)."""

    code = "INSI-INJOIGNABLE"
    user_message = "Le téléservice INSi est injoignable : vérifiez la connexion et réessayez."


class InsiTimeout(TransportError):
    """INSi did not answer within its deadline (DMP_INSI_DELAI_S, 60 s by default)."""

    code = "INSI-DELAI"
    user_message = "Le téléservice INSi n'a pas répondu dans le délai prévu : réessayez plus tard."


class InsiHttpError(TransportError):
    """INSi answered with an HTTP status that cannot carry a SOAP answer."""

    code = "INSI-HTTP"
    user_message = "Le téléservice INSi a répondu par une erreur HTTP."


class InsiTlsError(TransportError):
    """The TLS connection to INSi was refused (its certificate, or ours)."""

    code = "INSI-TLS"
    user_message = "Connexion sécurisée au téléservice INSi refusée (certificat du serveur ou du poste)."


class PscUnreachable(TransportError):
    """Pro Santé Connect cannot be reached (connection refused or cut, TLS failure, time-out, HTTP 5xx)."""

    code = "PSC-INJOIGNABLE"
    user_message = "Pro Santé Connect est injoignable : vérifiez la connexion et réessayez."


class PscNotConfigured(ClientConfigError):
    """No Pro Santé Connect address or client id is configured (DMP_PSC_URL, DMP_PSC_CLIENT_ID)."""

    code = "PSC-NON-CONFIGURE"
    user_message = (
        "Pro Santé Connect n'est pas configuré : renseignez son adresse (DMP_PSC_URL) et l'identifiant "
        "client du logiciel (DMP_PSC_CLIENT_ID)."
    )


class PscSecretMissing(ClientConfigError):
    """Client authentication by secret (DMP_PSC_AUTH_CLIENT = secret) and no secret in the keyring."""

    code = "PSC-SECRET-ABSENT"
    user_message = (
        "Le secret client Pro Santé Connect n'est pas dans le trousseau du système : enregistrez-le avec "
        "« dmp ecps secret »."
    )


class PscCancelled(DmpClientError):
    """The user cancelled the wait for the e-CPS approval (Annuler, Ctrl-C)."""

    code = "PSC-ANNULE"
    user_message = "Connexion e-CPS annulée."


class PscSessionExpired(DmpClientError):
    """The e-CPS session ended (tokens expired and could not be refreshed, or logged out)."""

    code = "PSC-SESSION-EXPIREE"
    user_message = "La session e-CPS a expiré : reconnectez-vous avec e-CPS."
