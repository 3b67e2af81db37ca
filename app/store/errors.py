"""Errors of the local store: each with a stable code and a French message that says what to do."""

from __future__ import annotations

from app.errors import DmpClientError


class StoreError(DmpClientError):
    code = "STORE"
    user_message = "La base locale (file d'envoi, cache, journal) est indisponible."


class KeyringUnavailable(StoreError):
    code = "STORE-TROUSSEAU"
    user_message = (
        "Aucun trousseau sécurisé du système n'est disponible pour la clé de la base locale chiffrée "
        "(Windows : Gestionnaire d'identification ; Linux : Secret Service, par exemple gnome-keyring). "
        "La clé n'est jamais écrite en clair sur le disque : ouvrez une session avec un trousseau, puis "
        "recommencez."
    )


class KeyMissing(StoreError):
    code = "STORE-CLE-ABSENTE"
    user_message = (
        "La base locale existe mais sa clé n'est pas dans le trousseau de cette session (autre "
        "utilisateur, trousseau réinitialisé ou base copiée d'un autre poste). Rien n'a été effacé : "
        "retrouvez le trousseau d'origine, ou mettez la base de côté avec « dmp store quarantine » "
        "pour repartir d'une base vide."
    )


class StoreUnreadable(StoreError):
    code = "STORE-ILLISIBLE"
    user_message = (
        "La base locale ne peut pas être ouverte : fichier abîmé, clé différente ou base d'une autre "
        "installation. Rien n'a été effacé : mettez-la de côté avec « dmp store quarantine » pour "
        "repartir d'une base vide (le fichier écarté est conservé pour le support)."
    )


class StoreForeign(StoreUnreadable):
    code = "STORE-ETRANGERE"
    user_message = (
        "Le fichier de la base locale n'est pas une base chiffrée de ce logiciel (base SQLite en clair "
        "ou autre format). Rien n'a été effacé : mettez-le de côté avec « dmp store quarantine »."
    )


class StoreTooNew(StoreError):
    code = "STORE-VERSION"
    user_message = (
        "La base locale a été créée par une version plus récente du logiciel : mettez le logiciel à "
        "jour (la base n'a pas été modifiée)."
    )


class StoreLocked(StoreError):
    code = "STORE-VERROUILLEE"
    user_message = (
        "La base locale est occupée par une autre instance du logiciel. Rien n'a été perdu : "
        "réessayez dans un instant ou fermez l'autre instance."
    )


class DiskFull(StoreError):
    code = "STORE-DISQUE-PLEIN"
    user_message = (
        "Le disque est plein : l'opération a été annulée et rien n'a été perdu. Libérez de la place "
        "puis recommencez."
    )


class EntryNotFound(StoreError):
    code = "FILE-ENTREE-INCONNUE"
    user_message = "Cette entrée de la file d'envoi n'existe pas."


class EntryStateError(StoreError):
    code = "FILE-ETAT"
    user_message = "Cette action n'est pas possible dans l'état actuel de l'entrée."


class DrainBusy(StoreError):
    code = "FILE-OCCUPEE"
    user_message = (
        "Une autre instance du logiciel envoie déjà la file d'envoi de ce poste : elle s'en charge."
    )


class DiskError(StoreError):
    code = "STORE-DISQUE"
    user_message = "Erreur d'écriture sur le disque de la base locale."


class FolderInaccessible(StoreError):
    code = "STORE-DOSSIER"
    user_message = "Le dossier de la base locale est inaccessible."


class DatabaseFailure(StoreError):
    code = "STORE-ERREUR"
    user_message = "Erreur de la base locale."


class KeyMalformed(KeyringUnavailable):
    code = "STORE-CLE-MALFORMEE"
    user_message = "La clé de la base locale lue dans le trousseau est malformée."


class StoreHealthy(StoreError):
    """``dmp store quarantine`` on a base that opens normally (without ``--forcer``)."""

    code = "STORE-SAINE"
    user_message = (
        "La base locale s'ouvre normalement : elle n'est pas mise de côté (--forcer pour le faire)."
    )


class QueuedContentAltered(StoreError):
    code = "FILE-CONTENU"
    user_message = "Le contenu du document en file d'envoi est incomplet ou altéré."


class SendMaybeDelivered(EntryStateError):
    code = "FILE-ENVOI-INCERTAIN"
    user_message = (
        "Le dernier envoi de ce document a peut-être abouti : relancez la file pour que le "
        "logiciel le vérifie auprès du DMP avant de l'annuler (ou annulez en forçant, en "
        "sachant que le DMP peut l'avoir reçu)."
    )


class CacheEmpty(StoreError):
    code = "CACHE-VIDE"
    user_message = "Aucune liste récente de ce patient dans le cache local."
