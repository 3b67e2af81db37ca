"""The DmpClient facade: one session (who, how, from which software), one method per transaction."""

from __future__ import annotations

from dataclasses import replace

from app.dmp_client.admin_client import AdminTransactions
from app.dmp_client.base import DEFAULT_CONTENT_TYPE, DEFAULT_REPOSITORY_ID, Session
from app.dmp_client.core.context import Purpose
from app.dmp_client.documents import DocumentTransactions

__all__ = ["DEFAULT_CONTENT_TYPE", "DEFAULT_REPOSITORY_ID", "DmpClient", "Session"]


class DmpClient(DocumentTransactions, AdminTransactions):
    """Every transaction: the exchange and TD0.2/TD1.3a/TD0.3 (``ClientBase``), the document ones
    (``DocumentTransactions``) and the administrative ones (``AdminTransactions``)."""

    def with_purpose(self, purpose: Purpose) -> DmpClient:
        """The same session (transport, signer, situation) with another purpose; the journal and
        its failure handler are kept, so break-glass access is journaled like the rest."""
        client = DmpClient(
            self.transport,
            self.signer,
            replace(self.session, purpose=purpose),
            content_type=self.content_type,
            repository_id=self.repository_id,
        )
        client.journal = self.journal
        client.on_journal_failure = self.on_journal_failure
        client.vihf_reuse_seconds = self.vihf_reuse_seconds  # its own cache: another purpose, another VIHF
        return client
