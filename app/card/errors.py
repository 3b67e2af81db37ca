"""Card errors: each has a stable code and a French message; none carries a PIN or patient data."""

from __future__ import annotations

from app.errors import DmpClientError


class CardError(DmpClientError):
    code = "CARTE"
    user_message = "Erreur de carte."


class MiddlewareMissing(CardError):
    code = "CARTE-MODULE-ABSENT"
    user_message = (
        "Le module PKCS#11 de la carte CPS (Cryptolib CPS) est introuvable : installez la Cryptolib CPS "
        "ou indiquez son chemin dans la configuration."
    )


class NoReader(CardError):
    code = "CARTE-AUCUN-LECTEUR"
    user_message = "Aucun lecteur de carte n'est connecté (ou le service PC/SC ne répond pas)."


class NoCard(CardError):
    code = "CARTE-ABSENTE"
    user_message = "Aucune carte CPS n'est insérée."


class CardRemoved(CardError):
    code = "CARTE-RETIREE"
    user_message = "La carte a été retirée : la session carte est terminée. Réinsérez la carte."


class PinIncorrect(CardError):
    code = "CARTE-CODE-FAUX"

    def __init__(self, tries_left: int | None) -> None:
        self.tries_left = tries_left
        if tries_left is None:
            message = "Code porteur incorrect."
        elif tries_left == 1:
            message = (
                "Code porteur incorrect. Attention : il ne reste qu'un essai avant le blocage de la carte."
            )
        else:
            message = f"Code porteur incorrect. Il reste {tries_left} essais."
        super().__init__(message)


class PinLocked(CardError):
    code = "CARTE-BLOQUEE"
    user_message = (
        "La carte est bloquée (trop de codes porteur faux). Débloquez-la avec le code de déblocage "
        "dans CPS-Gestion, puis réessayez."
    )


class PinFormat(CardError):
    code = "CARTE-CODE-FORMAT"
    user_message = "Le code porteur comporte de 4 à 8 chiffres."


class PinCancelled(CardError):
    code = "CARTE-CODE-ANNULE"
    user_message = "Saisie du code porteur annulée."


class CardDataError(CardError):
    code = "CARTE-DONNEES"
    user_message = "Les données de la carte sont illisibles ou mal formées."


class CardNotRecognized(CardError):
    code = "CARTE-INCONNUE"
    user_message = "La carte insérée n'est pas une carte CPS reconnue."


class VitaleError(CardError):
    code = "VITALE"
    user_message = "La carte Vitale ne peut pas être lue."


class CardWatchLost(CardRemoved):
    """The reader monitor stopped on an unexpected error: a removal could no longer be seen, so the
    session is ended as if the card had been pulled out (callers that handle a removal handle it)."""

    code = "CARTE-SURVEILLANCE"
    user_message = (
        "La surveillance du lecteur de carte s'est arrêtée sur une erreur inattendue : la session carte "
        "est terminée par précaution. Reconnectez-vous ; si cela se répète, rebranchez le lecteur."
    )


class Pkcs11Failure(CardError):
    """A PKCS#11 error with no more precise class (its name is in the message)."""

    code = "CARTE-PKCS11"
    user_message = "Erreur de la carte."


class CardAmbiguous(CardError):
    code = "CARTE-AMBIGUE"
    user_message = "Plusieurs cartes CPS sont présentes : précisez le lecteur ou le jeton à utiliser."


class SessionAlreadyOpen(CardError):
    code = "CARTE-SESSION-OUVERTE"
    user_message = "Une autre session de cette carte est déjà ouverte : fermez-la avant de recommencer."


class SituationUnknown(CardError):
    code = "CARTE-SITUATION"
    user_message = "La carte n'a pas la situation d'exercice demandée."


class VitaleAbsent(VitaleError):
    code = "VITALE-ABSENTE"
    user_message = "Aucune carte Vitale n'est insérée."


class RealVitaleCard(VitaleError):
    """A real Vitale card in the sandbox's reader: it is read through SESAM-Vitale, not here."""

    code = "VITALE-REELLE"
    user_message = (
        "Cette carte Vitale se lit par les composants SESAM-Vitale, pas par le lecteur du bac à sable."
    )


class SituationNotChosen(CardError):
    """The professional closed the situation d'exercice choice without choosing one."""

    code = "CARTE-SITUATION-ANNULEE"
    user_message = "Aucune situation d'exercice choisie : la connexion est annulée."
