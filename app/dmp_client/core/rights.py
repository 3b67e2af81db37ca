"""Rights before sending: what each authentication mode may ask, refused locally before any
exchange (dmp-interface.md §3.1, the FI-526 rights matrix; docs/authentication.md).

- Direct (card): everything the client offers (the DMP applies the finer matrix itself).
- Plain indirect (structure certificate): feeding, not consultation. TD3.1 metadata search is
  direct-only except "find a document reference" (to delete or replace it): here a GetDocuments by
  the document's uniqueId [UNSURE: the matrix's exact query list was not extracted]; TD3.2 retrieval
  is refused ("Indirect / CPE cannot consult").
- AIR (indirecte renforcée, e-CPS): the "Consultation" profile only (issue 18, SEL-MP-037 EX_AIR as
  quoted publicly); its own matrix (FI-606) was not extracted [UNSURE], so the allowed transactions
  are a setting (DMP_AIR_TRANSACTIONS, default :data:`AIR_DEFAULT`).
"""

from __future__ import annotations

from collections.abc import Collection

from app.dmp_client.core.context import AuthMode
from app.dmp_client.core.errors import AirTransactionRefused, ConsultationNeedsStrongAuth
from app.dmp_client.core.iti18 import StoredQuery

CONSULTATION = frozenset({"TD3.2"})  # refused outright in plain indirect mode (TD3.1: per query below)
AIR_DEFAULT = ("TD0.2", "TD1.3a", "TD3.1", "TD3.2")  # [UNSURE] DMP_AIR_TRANSACTIONS
REFERENCE_QUERIES = frozenset({StoredQuery.GET_DOCUMENTS})  # "find a document reference" [UNSURE]


def check_transaction(mode: AuthMode, transaction: str, air_allowed: Collection[str] = AIR_DEFAULT) -> None:
    """Refuse ``transaction`` (a TD number) before sending when ``mode`` may not ask it."""
    if mode is AuthMode.INDIRECT and transaction in CONSULTATION:
        raise ConsultationNeedsStrongAuth()
    if mode is AuthMode.INDIRECT_REINFORCED and transaction not in air_allowed:
        raise AirTransactionRefused()


def allows(mode: AuthMode, transaction: str, air_allowed: Collection[str] = AIR_DEFAULT) -> bool:
    """:func:`check_transaction` as a question: what the GUI offers follows the same rule."""
    try:
        check_transaction(mode, transaction, air_allowed)
    except (ConsultationNeedsStrongAuth, AirTransactionRefused):
        return False
    return True


def check_query(mode: AuthMode, query: StoredQuery) -> None:
    """TD3.1 in plain indirect mode: only the lookup of a known document's reference."""
    if mode is AuthMode.INDIRECT and query not in REFERENCE_QUERIES:
        raise ConsultationNeedsStrongAuth()
