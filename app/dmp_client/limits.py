"""The exchanges' time-outs and size cap as the settings hold them, apart from the transport
(app/dmp_client/transport.py and bounds.py re-export them): reading the settings loads neither httpx
nor the TLS stacks, which the first connection imports (dmp-gui's start-up, issue 16)."""

from __future__ import annotations

from dataclasses import dataclass

# [UNSURE] No public source gives the largest document the DMP accepts (docs/dmp-interface.md is
# silent; xds-landscape.md §6: "No official DMP maximum size was found in public sources"). The
# default allows an inline document up to the 64 MiB envelope cap (core/xml.py MAX_XML_BYTES) or
# an MTOM attachment of the same size, plus 16 MiB of envelope, headers and TLS framing.
# Configurable: DMP_TAILLE_MAX_REPONSE_MO.
DEFAULT_MAX_RESPONSE_BYTES = 80 * 1024 * 1024


@dataclass(frozen=True)
class Timeouts:
    """Seconds per kind of transaction (defaults near the DMP's own: find 600, send 200, retrieve 90).

    Each is the deadline of the whole exchange (connection, handshake, request, headers, body, a
    retry), not of one read; ``connect`` also bounds the connection and handshake within it."""

    query: float = 60.0
    find: float = 600.0
    send: float = 200.0
    retrieve: float = 90.0
    connect: float = 15.0
