"""The DmpClient facade: one session (who, how, from which software), one method per transaction."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import ClassVar

from app.dmp_client.admin_client import AdminTransactions
from app.dmp_client.core.context import Purpose
from app.dmp_client.documents import DocumentTransactions
from app.dmp_client.exchange import DEFAULT_CONTENT_TYPE, DEFAULT_REPOSITORY_ID, Session

__all__ = ["DEFAULT_CONTENT_TYPE", "DEFAULT_REPOSITORY_ID", "DmpClient", "Session"]


class DmpClient(DocumentTransactions, AdminTransactions):
    """Every transaction: the exchange and TD0.2/TD1.3a/TD0.3 (``ClientBase``), the document ones
    (``DocumentTransactions``) and the administrative ones (``AdminTransactions``)."""

    # Attributes that hold answers or tokens obtained under one purpose (access mode): a purpose
    # change starts them empty. Everything else (transport, signer, journal, journal-failure
    # handler, trace, content type...) is carried over as it is.
    # The VIHF cache is one of them: another purpose, another VIHF (and its own lock).
    PER_PURPOSE_STATE: ClassVar[Mapping[str, Callable[[], object]]] = {
        "_status_cache": dict,
        "_vihf_cache": dict,
        "_vihf_lock": threading.Lock,
    }

    def with_purpose(self, purpose: Purpose) -> DmpClient:
        """The same session (transport, signer, situation, author) with another purpose. A copy of
        this client, so that nothing set on it (the journal and its failure handler, so that
        break-glass access is journaled like the rest) can be dropped by a purpose change; only the
        :attr:`PER_PURPOSE_STATE` starts anew."""
        client = copy.copy(self)
        client.session = replace(self.session, purpose=purpose)
        for name, fresh in self.PER_PURPOSE_STATE.items():
            setattr(client, name, fresh())
        return client
