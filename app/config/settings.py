"""Configuration as a value: built once at the edge (command line, GUI) and passed down.

It is read through :class:`app.config.layers.Config` (docs/configuration.md): built-in defaults (the
embedded sandbox), the machine policy, the user's settings file, the environment (the rig writes
the variables; see docs/cards.md), then the machine policy's locked settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from app import __version__
from app.config.layers import DEFAULT_SENDER_OID as DEFAULT_SENDER_OID
from app.config.layers import KEYS, SANDBOX_AUTHOR, SANDBOX_HOST_URL, Config, InvalidValue
from app.config.layers import SANDBOX_HOMOLOGATION as SANDBOX_HOMOLOGATION
from app.dmp_client.core.context import AirAuthn, Software
from app.dmp_client.core.psc_params import CLIENT_AUTH_MODES, Channel
from app.dmp_client.insi_settings import InsiSettings
from app.dmp_client.key_files import is_encrypted
from app.dmp_client.limits import DEFAULT_MAX_RESPONSE_BYTES, Timeouts
from app.dmp_client.options import PscSettings
from app.dmp_client.options import StructureCredentials as StructureCredentials
from app.store.errors import KeyringUnavailable
from app.store.keys import SecretStore
from app.store.local_store import StoreSettings


@dataclass(frozen=True)
class Settings:
    host_url: str
    trust_files: tuple[Path, ...]
    software: Software
    sender_oid: str
    pkcs11_module: str | None
    structure: StructureCredentials | None
    proxy: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES  # [UNSURE] no documented DMP maximum
    vihf_reuse_seconds: float = 0.0  # [UNSURE] VIHF reuse (app/dmp_client/exchange.py _vihf): off
    trace_dir: Path | None = None  # --trace: every exchange of every client written there
    is_sandbox: bool = False
    store: StoreSettings = field(default_factory=StoreSettings.from_env)
    host_profile: str = "current"  # the DMP host's rules: current (Mon espace santé) or legacy
    auth_mode: str = "carte"  # DMP_MODE_AUTH: the command line's mode when --mode is not given
    feeding_needs_authorization: bool = False  # [UNSURE] DMP_DEPOT_AUTORISATION_REQUISE
    insi: InsiSettings = field(default_factory=InsiSettings)  # DMP_INSI_URL, DMP_INSI_IDAM, DMP_INSI_DELAI_S
    consultation_needs_qualified: bool = False  # [UNSURE] DMP_IDENTITE_CONSULTATION_QUALIFIEE
    psc: PscSettings = field(default_factory=PscSettings)  # DMP_PSC_* (e-CPS, docs/authentication.md)
    air: AirAuthn = field(default_factory=AirAuthn)  # DMP_AIR_AUTHN_*, DMP_AIR_VIHF_VALIDITE_S [UNSURE]
    air_transactions: tuple[str, ...] = ("TD0.2", "TD1.3a", "TD3.1", "TD3.2")  # DMP_AIR_TRANSACTIONS [UNSURE]
    psc_rpps: str | None = None  # DMP_PSC_RPPS: the workstation user's RPPS id, remembered

    # Where each value came from: the settings dialog shows the locked ones as locked.
    config: Config = field(default_factory=Config.load, compare=False, repr=False)

    @classmethod
    def load(cls, config: Config | None = None) -> Settings:
        """The settings of ``config`` (default: :meth:`Config.load`, the machine's configuration)."""
        config = Config.load() if config is None else config
        rig = config.get("DMP_SANDBOX_DIR") or None  # "" (e.g. locked empty): no sandbox
        # The sandbox's host and homologation number are defaults in sandbox mode only; elsewhere an
        # unset value stays empty and connecting names the setting (factory.check_configured).
        software = Software(
            name=config.require("DMP_LPS_NOM"),
            version=__version__,
            homologation=config.get("DMP_LPS_HOMOLOGATION") or (SANDBOX_HOMOLOGATION if rig else ""),
        )
        pki = Path(rig) / "pki" if rig else None
        trust = config.get("DMP_TRUST_FILES")
        trust_files = (
            tuple(Path(p) for p in trust.split(os.pathsep))
            if trust
            else ((pki / "trust-bundle.pem",) if pki else ())
        )
        structure = _configured_structure(config)
        if structure is None and pki is not None:
            structure = StructureCredentials(
                pki / "structure-auth.pem",
                pki / "structure-auth.key",
                pki / "structure-sign.pem",
                pki / "structure-sign.key",
                None,
                "1990000017",
                "SA01",
                "3990000017/secretariat",
                "NADIA SECRETAIRE",
                "CH DU BAC A SABLE",
                config.get("DMP_STRUCTURE_AUTEUR") or SANDBOX_AUTHOR,
            )
        return cls(
            host_url=config.get("DMP_HOST_URL") or (SANDBOX_HOST_URL if rig else ""),
            trust_files=trust_files,
            software=software,
            sender_oid=config.require("DMP_LPS_OID"),
            pkcs11_module=config.get("DMP_PKCS11_MODULE") or None,  # "" (e.g. locked empty): none
            structure=structure,
            proxy=config.get("DMP_PROXY") or None,
            timeouts=Timeouts(
                query=float(config.require("DMP_DELAI_REQUETE_S")),
                find=float(config.require("DMP_DELAI_RECHERCHE_S")),
                send=float(config.require("DMP_DELAI_ENVOI_S")),
                retrieve=float(config.require("DMP_DELAI_RECUPERATION_S")),
                connect=float(config.require("DMP_DELAI_CONNEXION_S")),
            ),
            max_response_bytes=int(float(config.require("DMP_TAILLE_MAX_REPONSE_MO")) * 1024 * 1024),
            vihf_reuse_seconds=float(config.require("DMP_VIHF_REUTILISATION_S")),
            is_sandbox=rig is not None,
            host_profile=_choice(config, "DMP_PROFIL_HOTE", HOST_PROFILES),
            auth_mode=_choice(config, "DMP_MODE_AUTH", AUTH_MODES),
            feeding_needs_authorization=config.require("DMP_DEPOT_AUTORISATION_REQUISE") == "1",
            insi=InsiSettings(
                url=config.get("DMP_INSI_URL") or None,
                idam=config.get("DMP_INSI_IDAM") or None,
                timeout=float(config.require("DMP_INSI_DELAI_S")),
            ),
            consultation_needs_qualified=config.require("DMP_IDENTITE_CONSULTATION_QUALIFIEE") == "1",
            store=StoreSettings.from_env(config),
            psc=_psc_settings(config, trust_files),
            air=AirAuthn(
                config.require("DMP_AIR_AUTHN_CLASSE"),
                config.get("DMP_AIR_AUTHN_DECL") or None,
                float(config.require("DMP_AIR_VIHF_VALIDITE_S")),
            ),
            air_transactions=tuple(
                t.strip() for t in config.require("DMP_AIR_TRANSACTIONS").split(",") if t.strip()
            ),
            psc_rpps=config.get("DMP_PSC_RPPS") or None,
            config=config,
        )


AUTH_MODES = ("carte", "structure")  # DMP_MODE_AUTH: the CLI's --mode default, the GUI's first connection
HOST_PROFILES = ("current", "legacy")  # DMP_PROFIL_HOTE: the host's rules (the GUI offers what fits)


def _psc_settings(config: Config, dmp_trust: tuple[Path, ...]) -> PscSettings:
    """DMP_PSC_*. The trusted roots: DMP_PSC_TRUST_FILES; in sandbox mode the rig's bundle (its
    provider's certificate comes from the test PKI); elsewhere the system's roots."""
    trust = config.get("DMP_PSC_TRUST_FILES")
    rig = config.get("DMP_SANDBOX_DIR") or None
    channel = config.require("DMP_PSC_CANAL").strip().upper()
    if channel not in {c.value for c in Channel}:
        raise InvalidValue(f"Réglage DMP_PSC_CANAL : « {channel[:20]} » n'est ni « MOBILE » ni « CARD ».")
    auth = config.require("DMP_PSC_AUTH_CLIENT").strip().lower()
    if auth not in CLIENT_AUTH_MODES:
        raise InvalidValue(f"Réglage DMP_PSC_AUTH_CLIENT : « {auth[:20]} » n'est ni « mtls » ni « secret ».")
    return PscSettings(
        url=config.get("DMP_PSC_URL") or None,
        client_id=config.get("DMP_PSC_CLIENT_ID") or None,
        client_auth=auth,
        channel=Channel(channel),
        acr_values=config.require("DMP_PSC_ACR"),
        scope=config.require("DMP_PSC_PORTEE"),
        timeout=float(config.require("DMP_PSC_DELAI_S")),
        trust_files=tuple(Path(p) for p in trust.split(os.pathsep)) if trust else (dmp_trust if rig else ()),
        leeway=int(float(config.require("DMP_PSC_TOLERANCE_HORLOGE_S"))),
        require_auth_req_id=config.require("DMP_PSC_EXIGER_AUTH_REQ_ID") == "1",
    )


def _choice(config: Config, name: str, allowed: tuple[str, ...]) -> str:
    """A setting that takes one of ``allowed`` (the settings dialog offers them as a list)."""
    value = config.require(name).strip().lower()
    if value not in allowed:
        expected = " ni ".join(f"« {a} »" for a in allowed)
        raise InvalidValue(f"Réglage {name} (« {KEYS[name].label} ») : « {value[:20]} » n'est ni {expected}.")
    return value


def _configured_structure(config: Config) -> StructureCredentials | None:
    """The structure's own certificates, when the vendor or IT configured them (else the sandbox's)."""
    names = (
        "DMP_STRUCTURE_CERT_AUTH",
        "DMP_STRUCTURE_CLE_AUTH",
        "DMP_STRUCTURE_CERT_SIGN",
        "DMP_STRUCTURE_CLE_SIGN",
    )
    paths = [Path(value) for name in names if (value := config.get(name))]
    if len(paths) != len(names):
        return None
    structure_id = config.get("DMP_STRUCTURE_ID") or ""
    return StructureCredentials(
        paths[0],
        paths[1],
        paths[2],
        paths[3],
        _key_password(paths[1], paths[3]),
        structure_id,
        config.get("DMP_STRUCTURE_SECTEUR") or "SA01",
        # The VIHF's NameID and subject-id in indirect mode: the local user the structure vouches for
        # (dmp-interface.md §VIHF: "a local identifier is allowed [UNSURE exact format]"; subject-id
        # "display name of the user, PRENOM NOM"). Unset: the structure itself is that user.
        config.get("DMP_STRUCTURE_UTILISATEUR_ID") or f"{structure_id}/secretariat",
        config.get("DMP_STRUCTURE_UTILISATEUR_NOM") or config.get("DMP_STRUCTURE_NOM") or structure_id,
        config.get("DMP_STRUCTURE_NOM") or "",
        # None: documents need their own author (the send names this setting); never the sandbox's.
        config.get("DMP_STRUCTURE_AUTEUR") or None,
    )


def _key_password(*keys: Path) -> str | None:
    """The password of encrypted structure keys (encrypted PEM, PKCS#12): from the system keyring only
    (``dmp structure mot-de-passe`` stores it), never from a file or the environment; the keyring is
    not asked when no key is encrypted. None when absent or the keyring is unusable: the connection
    then fails with DMP-CLE-MOT-DE-PASSE-ABSENT."""
    if not any(is_encrypted(key) for key in keys):
        return None
    try:
        return SecretStore().get()
    except KeyringUnavailable:
        return None
