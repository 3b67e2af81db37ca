"""The INSi part of the settings (app/config/settings.py), apart from the INSi client
(app/dmp_client/insi_client.py, which re-exports it): reading the settings loads neither the client nor
the protocol core, which the first INSi search imports."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from app.dmp_client.errors import InsiNotConfigured

DEFAULT_TIMEOUT = 60.0  # [UNSURE] DmpConnect's public INSi wrapper


@dataclass(frozen=True)
class InsiSettings:
    """The INSi part of the settings (app/config/settings.py)."""

    url: str | None = None  # DMP_INSI_URL
    idam: str | None = None  # DMP_INSI_IDAM
    timeout: float = DEFAULT_TIMEOUT  # DMP_INSI_DELAI_S

    def check(self) -> tuple[str, str]:
        """(base URL, service path) for the transport; INSI-NON-CONFIGURE when unusable."""
        if not self.url or not self.idam:
            raise InsiNotConfigured()
        return split_url(self.url)


def split_url(url: str) -> tuple[str, str]:
    """``https://host[:port]/a/b`` → (``https://host[:port]/a``, ``b``): the transport POSTs to
    ``base/service``."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment or not path:
        raise InsiNotConfigured()
    base, _, service = path.rpartition("/")
    return f"{parts.scheme}://{parts.netloc}{base}", service
