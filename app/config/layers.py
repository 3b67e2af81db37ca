"""Layered configuration (docs/configuration.md), lowest to highest priority: built-in defaults, the
machine policy's ``[defauts]``, the user's settings file, the environment, the machine policy's
``[verrouilles]`` (locked: beats everything). Keys are the environment variable names; values are
strings parsed by their users (app/config/settings.py, app/store/local_store.py). :data:`KEYS` is the one
table of known keys. A machine policy that cannot be applied is an error, never a silent fallback.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple, overload

import platformdirs

from app.errors import DmpClientError

APP_NAME = "dmp-client"
POLICY_FILE_NAME = "policy.toml"
USER_FILE_NAME = "reglages.toml"
POLICY_FILE_VARIABLE = "DMP_POLICY_FILE"  # read from the environment only
DEFAULTS_SECTION = "defauts"
LOCKED_SECTION = "verrouilles"
REGISTRY_KEY = r"Software\Policies\DmpClient"
SECTIONS = {DEFAULTS_SECTION: "Defauts", LOCKED_SECTION: "Verrouilles"}  # file table: registry subkey

SANDBOX_HOMOLOGATION = "BAC-A-SABLE"
DEFAULT_SENDER_OID = "1.2.250.1.999.42.1"  # the LPS's OID: set by the vendor
SANDBOX_HOST_URL = "https://localhost:8443/si-dmp-server/v2/services"
SANDBOX_AUTHOR = "899900012342|PAUL|CARDIOLOGUE|G15_10/SM04"  # "IdNat|Prénom|NOM|G15_10/SM04"


class Kind(Enum):  # what a value holds: the settings dialog picks its widget from it
    TEXT = "texte"
    PATH = "chemin"
    PATHS = "chemins"  # separated by os.pathsep; a TOML array or REG_MULTI_SZ in the policy
    FLAG = "oui/non"  # "1" or "0"
    NUMBER = "nombre"  # a non-negative decimal number


@dataclass(frozen=True)
class Key:
    name: str
    label: str  # French, shown by the settings dialog
    kind: Kind
    default: str | None = None  # None: no value, or one computed by the code (docs/configuration.md)


_AIR_CLASS = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"  # [UNSURE] app.dmp_client.core.context

_TABLE = (
    # Sandbox mode only: outside it these two have no default (app.config.settings, the factory's check).
    Key("DMP_HOST_URL", "Adresse des services du DMP", Kind.TEXT),
    Key("DMP_TRUST_FILES", "Certificats des autorités de confiance", Kind.PATHS),
    Key("DMP_PROXY", "Serveur mandataire (proxy)", Kind.TEXT),
    Key("DMP_LPS_NOM", "Nom du logiciel", Kind.TEXT, "Client DMP"),
    Key("DMP_LPS_HOMOLOGATION", "Numéro d'homologation du logiciel", Kind.TEXT),
    Key("DMP_LPS_OID", "OID du logiciel (émetteur des documents)", Kind.TEXT, DEFAULT_SENDER_OID),
    Key("DMP_PKCS11_MODULE", "Module PKCS#11 de la carte CPS", Kind.PATH),
    # No built-in default: the sandbox's fictitious author is the sandbox structure's only (settings.py).
    Key("DMP_STRUCTURE_AUTEUR", "Auteur par défaut des documents de la structure", Kind.TEXT),
    Key("DMP_STORE_DIR", "Dossier des données locales", Kind.PATH),
    Key("DMP_CACHE_AGE_MAX_H", "Durée de conservation du cache (heures)", Kind.NUMBER, "168"),
    Key("DMP_CACHE_TAILLE_MAX_MO", "Taille maximale du cache (Mo)", Kind.NUMBER, "512"),
    Key("DMP_CACHE_PURGE_FIN_SESSION", "Vider le cache à la fin de la session carte", Kind.FLAG, "0"),
    # [UNSURE] whether feeding needs the sender's authorisation (PDSM4DMP prerequisites vs "feeding-only
    # profiles may skip it"): 0 = told in the secretariat batch's row, 1 = blocks the row.
    Key(
        "DMP_DEPOT_AUTORISATION_REQUISE",
        "Dépôt refusé sans autorisation sur le DMP (secrétariat)",
        Kind.FLAG,
        "0",
    ),
    # [UNSURE] Consulting the DMP (TD0.2, ITI-18, ITI-43) for an identity that is not qualifiée: the
    # project's sources only forbid feeding (issue 17, docs/identity.md); 0 = allowed, 1 = refused.
    Key(
        "DMP_IDENTITE_CONSULTATION_QUALIFIEE",
        "Consultation du DMP réservée aux identités qualifiées",
        Kind.FLAG,
        "0",
    ),
    Key("DMP_FILE_DELAI_S", "Délai avant un nouvel essai d'envoi (secondes)", Kind.NUMBER, "5"),
    Key("DMP_DOSSIER_DEPOT", "Dossier de dépôt surveillé (secrétariat)", Kind.PATH),
    Key("DMP_DEPOT_MODE", "Envoi du dossier de dépôt (structure, carte)", Kind.TEXT, "structure"),
    Key("DMP_DEPOT_STABLE_S", "Délai de stabilité des fichiers déposés (secondes)", Kind.NUMBER, "2"),
    Key("DMP_DEPOT_ACTIF", "Surveiller le dossier de dépôt dès l'ouverture", Kind.FLAG, "0"),
    Key("DMP_SANDBOX_DIR", "Dossier du bac à sable (essais)", Kind.PATH),
    # INSi (app/dmp_client/insi_client.py): no built-in address; [UNSURE] 60 s from DmpConnect's wrapper.
    Key("DMP_INSI_URL", "Adresse du téléservice INSi", Kind.TEXT),
    Key("DMP_INSI_IDAM", "Numéro d'autorisation CNDA du logiciel (INSi)", Kind.TEXT),
    Key("DMP_INSI_DELAI_S", "Délai des requêtes INSi (secondes)", Kind.NUMBER, "60"),
    Key("DMP_MAJ_URL", "Adresse de l'annonce des mises à jour (éditeur)", Kind.TEXT),
    Key("DMP_PROFIL_HOTE", "Profil de l'hôte DMP (current, legacy)", Kind.TEXT, "current"),
    Key("DMP_MODE_AUTH", "Authentification par défaut (carte, structure)", Kind.TEXT, "carte"),
    Key("DMP_DELAI_REQUETE_S", "Délai des requêtes simples (secondes)", Kind.NUMBER, "60"),
    Key("DMP_DELAI_RECHERCHE_S", "Délai des recherches de documents (secondes)", Kind.NUMBER, "600"),
    Key("DMP_DELAI_ENVOI_S", "Délai des dépôts de documents (secondes)", Kind.NUMBER, "200"),
    Key("DMP_DELAI_RECUPERATION_S", "Délai des récupérations de documents (secondes)", Kind.NUMBER, "90"),
    Key("DMP_DELAI_CONNEXION_S", "Délai d'établissement des connexions (secondes)", Kind.NUMBER, "15"),
    Key("DMP_TAILLE_MAX_REPONSE_MO", "Taille maximale d'une réponse du DMP (Mio)", Kind.NUMBER, "80"),
    # [UNSURE] whether the DMP accepts a VIHF reused across requests: 0 = one per request (default).
    Key(
        "DMP_VIHF_REUTILISATION_S",
        "Réutilisation d'un VIHF signé (secondes, 0 = un par requête)",
        Kind.NUMBER,
        "0",
    ),
    Key(
        "DMP_STRUCTURE_CERT_AUTH", "Certificat d'authentification de la structure (PEM ou PKCS#12)", Kind.PATH
    ),
    Key("DMP_STRUCTURE_CLE_AUTH", "Clé d'authentification de la structure (PEM ou PKCS#12)", Kind.PATH),
    Key("DMP_STRUCTURE_CERT_SIGN", "Certificat de signature de la structure (PEM ou PKCS#12)", Kind.PATH),
    Key("DMP_STRUCTURE_CLE_SIGN", "Clé de signature de la structure (PEM ou PKCS#12)", Kind.PATH),
    Key("DMP_STRUCTURE_ID", "Identifiant national de la structure (FINESS préfixé)", Kind.TEXT),
    Key("DMP_STRUCTURE_NOM", "Nom de la structure", Kind.TEXT),
    Key("DMP_STRUCTURE_SECTEUR", "Secteur d'activité de la structure (TRE_R02)", Kind.TEXT),
    # [UNSURE] the indirect-mode VIHF's local user (NameID) and its display name (subject-id).
    Key("DMP_STRUCTURE_UTILISATEUR_ID", "Identifiant local de l'utilisateur (mode structure)", Kind.TEXT),
    Key("DMP_STRUCTURE_UTILISATEUR_NOM", "Nom de l'utilisateur (mode structure, « PRÉNOM NOM »)", Kind.TEXT),
    # Pro Santé Connect (e-CPS, CIBA) and AIR: docs/authentication.md
    Key("DMP_PSC_URL", "Adresse de Pro Santé Connect (émetteur OpenID)", Kind.TEXT),
    Key("DMP_PSC_CLIENT_ID", "Identifiant client du logiciel auprès de Pro Santé Connect", Kind.TEXT),
    Key(
        "DMP_PSC_AUTH_CLIENT", "Authentification du logiciel auprès de PSC (mtls, secret)", Kind.TEXT, "mtls"
    ),
    Key("DMP_PSC_CANAL", "Canal e-CPS (MOBILE, CARD)", Kind.TEXT, "MOBILE"),
    Key("DMP_PSC_ACR", "Niveau d'authentification demandé à PSC (acr_values)", Kind.TEXT, "eidas1"),
    Key("DMP_PSC_PORTEE", "Portée demandée à PSC (scope)", Kind.TEXT, "openid all"),
    Key("DMP_PSC_DELAI_S", "Délai des requêtes à Pro Santé Connect (secondes)", Kind.NUMBER, "30"),
    Key("DMP_PSC_TRUST_FILES", "Autorités de confiance pour Pro Santé Connect", Kind.PATHS),
    Key(
        "DMP_PSC_TOLERANCE_HORLOGE_S",
        "Écart d'horloge toléré sur les jetons PSC (secondes)",
        Kind.NUMBER,
        "30",
    ),
    Key("DMP_PSC_EXIGER_AUTH_REQ_ID", "Exiger l'identifiant de demande CIBA dans le jeton", Kind.FLAG, "0"),
    Key("DMP_PSC_RPPS", "Identifiant RPPS du professionnel (e-CPS, mémorisé)", Kind.TEXT),
    Key("DMP_AIR_AUTHN_CLASSE", "AIR : AuthnContextClassRef du VIHF", Kind.TEXT, _AIR_CLASS),
    Key("DMP_AIR_AUTHN_DECL", "AIR : AuthnContextDecl du VIHF (vide : aucun)", Kind.TEXT, "APP_BROWSER_AUTH"),
    Key(
        "DMP_AIR_VIHF_VALIDITE_S",
        "AIR : validité d'un VIHF (secondes, 0 : sans Conditions)",
        Kind.NUMBER,
        "30",
    ),
    Key(
        "DMP_AIR_TRANSACTIONS",
        "AIR : transactions permises (séparées par des virgules)",
        Kind.TEXT,
        "TD0.2,TD1.3a,TD3.1,TD3.2",
    ),
    Key(
        "DMP_TYPES_RESERVES",
        "Types de documents réservés (classe ou type = professions autorisées ; …)",
        Kind.TEXT,
        "43=21;60=",
    ),
)
KEYS: Mapping[str, Key] = MappingProxyType({key.name: key for key in _TABLE})
BUILTIN: Mapping[str, str] = MappingProxyType({k.name: k.default for k in _TABLE if k.default is not None})


class Source(Enum):  # where a value comes from, in French for the settings dialog
    DEFAULT = "valeur par défaut"
    POLICY_DEFAULT = "valeur par défaut de la machine"
    USER = "réglage de l'utilisateur"
    ENVIRONMENT = "variable d'environnement"
    POLICY_LOCKED = "verrouillé par la machine"


PRECEDENCE = (Source.POLICY_LOCKED, Source.ENVIRONMENT, Source.USER, Source.POLICY_DEFAULT, Source.DEFAULT)


class ConfigError(DmpClientError):
    """The configuration cannot be used; ``path`` and ``line`` locate the problem when known."""

    code = "CONFIG"
    user_message = "La configuration ne peut pas être lue."

    def __init__(self, user_message: str | None = None, *, path: Path | None = None, line: int | None = None):
        super().__init__(user_message)
        self.path = path
        self.line = line


class PolicyError(ConfigError):
    code = "CONFIG-POLITIQUE"
    user_message = "La politique de configuration de la machine ne peut pas être appliquée."


class UserSettingsError(ConfigError):
    code = "CONFIG-UTILISATEUR"
    user_message = "Le fichier des réglages de l'utilisateur ne peut pas être lu ou écrit."


class LockedSetting(ConfigError):
    code = "CONFIG-VERROUILLE"
    user_message = "Ce réglage est verrouillé par la politique de la machine."


class InvalidValue(ConfigError):
    code = "CONFIG-VALEUR"
    user_message = "La valeur de ce réglage n'est pas valide."


class PolicySections(NamedTuple):  # one source of machine policy, as read (values not yet checked)
    defaults: Mapping[str, object]
    locked: Mapping[str, object]


def check_value(key: Key, text: str) -> None:
    """Raise ValueError (French reason) when ``text`` does not fit the key's kind."""
    if key.kind is Kind.FLAG and text not in ("0", "1"):
        raise ValueError("1 (oui) ou 0 (non) attendu")
    if key.kind is Kind.NUMBER:
        try:
            number = float(text)
        except ValueError:
            raise ValueError("nombre attendu") from None
        if not math.isfinite(number) or number < 0:
            raise ValueError("nombre positif ou nul attendu")


def to_text(key: Key, raw: object) -> str:
    """A TOML or registry value as the string the code parses (true → "1", 168 → "168")."""
    if isinstance(raw, bool):
        text = "1" if raw else "0"
    elif isinstance(raw, int | float | str):
        text = str(raw)
    elif isinstance(raw, list) and key.kind is Kind.PATHS and all(isinstance(p, str) for p in raw):
        text = os.pathsep.join(raw)
    else:
        raise ValueError("type de valeur non pris en charge (texte, nombre ou booléen attendu)")
    check_value(key, text)
    return text


def _line_of(text: str, name: str, section: str | None) -> int | None:
    """First line defining ``name`` in ``section`` (None: top level, a key or a section header)."""
    current: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        header = re.match(r'\s*\[+\s*"?([^"\]]*?)"?\s*\]', line)
        if header and section is None and header.group(1) == name:
            return number
        current = header.group(1) if header else current
        if not header and current == section and re.match(rf'\s*"?{re.escape(name)}"?\s*=', line):
            return number
    return None


@dataclass(frozen=True)
class _Origin:
    """Where values come from, named in errors: a file (its text gives line numbers) or a registry key."""

    error: type[ConfigError]
    what: str
    path: Path | None = None
    text: str = ""

    def fail(self, reason: str, name: str | None = None, section: str | None = None) -> ConfigError:
        line = _line_of(self.text, name, section) if name else None
        at = f" (ligne {line})" if line else ""
        return self.error(f"{self.what}{at} : {reason}.", path=self.path, line=line)

    def checked(self, values: Mapping[str, object], section: str | None = None) -> dict[str, str]:
        """The values as strings; an unknown key is an error (a typo must not unlock a setting)."""
        checked: dict[str, str] = {}
        for name, raw in values.items():
            if name in KEYS:
                try:
                    checked[name] = to_text(KEYS[name], raw)
                except ValueError as exc:
                    raise self.fail(f"« {name} » : {exc}", name, section) from None
            else:
                raise self.fail(f"clé inconnue « {name} » (vérifiez son orthographe)", name, section)
        return checked


def _read_toml(path: Path, error: type[ConfigError], what: str) -> tuple[dict[str, object], _Origin] | None:
    """The parsed document; None when the file does not exist."""
    origin = _Origin(error, f"{what} {path}", path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise origin.fail(f"lecture impossible ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")  # Notepad's "UTF-8 with BOM" included
    except UnicodeDecodeError:
        raise origin.fail("le fichier n'est pas enregistré en UTF-8") from None
    try:
        return tomllib.loads(text), replace(origin, text=text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(found.group(1)) if found else None
        where = f"ligne {line}, colonne {found.group(2)} : " if found else ""
        detail = re.sub(r"\s*\(at [^)]*\)", "", str(exc))
        raise error(f"{origin.what} : TOML mal formé ({where}{detail}).", path=path, line=line) from None


def default_policy_file(environ: Mapping[str, str]) -> tuple[Path, bool]:
    """The policy file and whether it was named explicitly (then it must exist)."""
    named = environ.get(POLICY_FILE_VARIABLE)
    site = Path(platformdirs.site_config_dir(APP_NAME, appauthor=False)) / POLICY_FILE_NAME
    return (Path(named), True) if named else (site, False)


def default_user_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / USER_FILE_NAME


def read_policy_file(path: Path, required: bool) -> tuple[dict[str, str], dict[str, str]]:
    """The ``[defauts]`` and ``[verrouilles]`` tables of a policy file; anything else is an error."""
    what = "Politique de la machine non appliquée : le fichier"
    read = _read_toml(path, PolicyError, what)
    if read is None:
        if required:
            raise PolicyError(f"{what} {path} est introuvable.", path=path)
        return {}, {}
    document, origin = read
    tables: dict[str, dict[str, str]] = {}
    for name, table in document.items():
        if name not in SECTIONS or not isinstance(table, dict):
            place = f"[{DEFAULTS_SECTION}] ou [{LOCKED_SECTION}]"
            reason = f"« {name} » n'est pas une section connue ({place} attendue)"
            raise origin.fail(f"« {name} » doit être placée sous {place}" if name in KEYS else reason, name)
        tables[name] = origin.checked(table, name)
    return tables.get(DEFAULTS_SECTION, {}), tables.get(LOCKED_SECTION, {})


def read_registry() -> PolicySections:
    """``HKLM\\Software\\Policies\\DmpClient\\Defauts`` and ``…\\Verrouilles`` (Windows only)."""
    if sys.platform != "win32":
        return PolicySections({}, {})
    import winreg

    sections: list[dict[str, object]] = []
    for sub in SECTIONS.values():
        path = f"{REGISTRY_KEY}\\{sub}"
        values: dict[str, object] = {}
        try:
            access = winreg.KEY_READ | winreg.KEY_WOW64_64KEY
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path, 0, access) as handle:
                for index in range(winreg.QueryInfoKey(handle)[1]):
                    name, data, kind = winreg.EnumValue(handle, index)
                    if name:  # the key's unnamed default value is not a setting
                        expand = kind == winreg.REG_EXPAND_SZ
                        values[name] = winreg.ExpandEnvironmentStrings(data) if expand else data
        except FileNotFoundError:
            pass
        except OSError as exc:
            what = f"Politique de la machine non appliquée : registre HKLM\\{path}"
            raise PolicyError(f"{what} : lecture impossible ({exc.strerror}).") from None
        sections.append(values)
    return PolicySections(sections[0], sections[1])


def read_user_file(path: Path) -> dict[str, str]:
    """The settings of the user's file; keys this version does not know are ignored."""
    read = _read_toml(path, UserSettingsError, "Réglages de l'utilisateur illisibles : le fichier")
    if read is None:
        return {}
    document, origin = read
    return origin.checked({name: value for name, value in document.items() if name in KEYS})


def user_file_text(values: Mapping[str, str]) -> str:
    """A flat TOML table (JSON string escapes are TOML basic-string escapes; DEL must be escaped too)."""
    lines = ["# Réglages de l'utilisateur du client DMP, écrits par l'application.\n"]
    for name, value in values.items():
        quoted = json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
        lines.append(f"{name} = {quoted}\n")
    return "".join(lines)


def write_atomically(path: Path, text: str) -> None:
    """Temporary file in the same folder, flushed to disk, then renamed over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@dataclass(frozen=True)
class Config:
    """The five layers, each a read-only mapping of known keys to strings, and the user's file."""

    layers: Mapping[Source, Mapping[str, str]]
    user_file: Path  # where save_user writes

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        policy_file: Path | None = None,
        user_file: Path | None = None,
        registry: PolicySections | None = None,
    ) -> Config:
        """``environ`` defaults to ``os.environ``, ``policy_file`` to ``DMP_POLICY_FILE`` or the site
        configuration folder's ``policy.toml`` (a file named explicitly must exist), ``user_file`` to
        the user configuration folder's ``reglages.toml``, ``registry`` to the Windows registry."""
        environ = os.environ if environ is None else environ
        path, required = (policy_file, True) if policy_file is not None else default_policy_file(environ)
        file_defaults, file_locked = read_policy_file(path, required)
        site, _ = default_policy_file({})
        if policy_file is None and path != site:
            # DMP_POLICY_FILE comes from the user's environment: it adds a policy, it cannot replace
            # the machine's own file, whose settings (locks included) win over it.
            site_defaults, site_locked = read_policy_file(site, False)
            file_defaults, file_locked = file_defaults | site_defaults, file_locked | site_locked
        where = f"Politique de la machine non appliquée : registre HKLM\\{REGISTRY_KEY}\\"
        reg_defaults, reg_locked = (
            _Origin(PolicyError, where + SECTIONS[section]).checked(values, section)
            for section, values in zip(
                SECTIONS, read_registry() if registry is None else registry, strict=True
            )
        )
        user_file = default_user_file() if user_file is None else user_file
        layers = {
            Source.POLICY_DEFAULT: file_defaults | reg_defaults,  # the registry (GPO) wins over the file
            Source.USER: read_user_file(user_file),
            Source.ENVIRONMENT: {name: environ[name] for name in KEYS if name in environ},
            Source.POLICY_LOCKED: file_locked | reg_locked,
        }
        return cls.of(layers, user_file)

    @classmethod
    def of(cls, layers: Mapping[Source, Mapping[str, str]], user_file: Path | None = None) -> Config:
        """The given layers (already checked), the built-in defaults below them."""
        full: dict[Source, Mapping[str, str]] = {s: MappingProxyType(dict(layers.get(s, {}))) for s in Source}
        full[Source.DEFAULT] = BUILTIN
        return cls(MappingProxyType(full), default_user_file() if user_file is None else user_file)

    @overload
    def get(self, key: str, default: None = None) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...
    def get(self, key: str, default: str | None = None) -> str | None:
        """The value of the highest layer that has one (KeyError for a key not in :data:`KEYS`)."""
        return self.layers[self.source(key)].get(key, default)

    def require(self, key: str) -> str:
        """The value of a key that has a built-in default."""
        if (value := self.get(key)) is None:
            raise LookupError(f"{key} has no value and no built-in default")
        return value

    def source(self, key: str) -> Source:
        KEYS[key]  # KeyError for a key not in the table
        return next((s for s in PRECEDENCE if key in self.layers[s]), Source.DEFAULT)

    def is_locked(self, key: str) -> bool:
        return self.source(key) is Source.POLICY_LOCKED

    def locked_keys(self) -> frozenset[str]:
        return frozenset(self.layers[Source.POLICY_LOCKED])

    def save_user(self, key_values: Mapping[str, str | None]) -> Config:
        """Write settings to the user's file (None removes one) atomically; returns the new configuration.
        A locked key is refused (:class:`LockedSetting`, nothing written), so is an invalid value."""
        if locked := [f"« {KEYS[name].label} » ({name})" for name in key_values if self.is_locked(name)]:
            raise LockedSetting(f"Réglage verrouillé par la politique de la machine : {', '.join(locked)}.")
        for name, value in key_values.items():
            try:
                if value is not None:
                    check_value(KEYS[name], value)
            except ValueError as exc:
                raise InvalidValue(f"« {KEYS[name].label} » ({name}) : {exc}.") from None
        merged = {**read_user_file(self.user_file), **key_values}
        values = {name: value for name in KEYS if (value := merged.get(name)) is not None}
        try:
            write_atomically(self.user_file, user_file_text(values))
        except OSError as exc:
            message = f"Les réglages ne peuvent pas être enregistrés dans {self.user_file} : {exc.strerror}."
            raise UserSettingsError(message, path=self.user_file) from None
        return replace(self, layers=MappingProxyType({**self.layers, Source.USER: MappingProxyType(values)}))
