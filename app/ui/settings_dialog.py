"""Settings: every layered setting (docs/configuration.md) grouped by theme; a setting the machine
policy locks is shown locked and cannot be changed; where each value comes from is shown. Saved to
the user's settings file; they apply at the next start."""

from __future__ import annotations

from app.config.layers import KEYS, Config, ConfigError, Kind, Source
from app.ui.qt import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from app.ui.texts import count, word

GROUPS = {
    "Hôte DMP": ("DMP_HOST_URL", "DMP_PROFIL_HOTE", "DMP_TRUST_FILES", "DMP_PROXY"),
    "Téléservice INSi": ("DMP_INSI_URL", "DMP_INSI_IDAM", "DMP_INSI_DELAI_S"),
    "Authentification": (
        "DMP_MODE_AUTH", "DMP_PKCS11_MODULE", "DMP_STRUCTURE_CERT_AUTH", "DMP_STRUCTURE_CLE_AUTH",
        "DMP_STRUCTURE_CERT_SIGN", "DMP_STRUCTURE_CLE_SIGN", "DMP_STRUCTURE_ID", "DMP_STRUCTURE_NOM",
        "DMP_STRUCTURE_SECTEUR", "DMP_STRUCTURE_AUTEUR", "DMP_STRUCTURE_UTILISATEUR_ID",
        "DMP_STRUCTURE_UTILISATEUR_NOM",
    ),
    "e-CPS (Pro Santé Connect)": (
        "DMP_PSC_URL", "DMP_PSC_CLIENT_ID", "DMP_PSC_AUTH_CLIENT", "DMP_PSC_TRUST_FILES", "DMP_PSC_RPPS",
        "DMP_PSC_CANAL", "DMP_PSC_ACR", "DMP_PSC_PORTEE", "DMP_PSC_DELAI_S", "DMP_PSC_TOLERANCE_HORLOGE_S",
        "DMP_PSC_EXIGER_AUTH_REQ_ID", "DMP_AIR_AUTHN_CLASSE", "DMP_AIR_AUTHN_DECL", "DMP_AIR_VIHF_VALIDITE_S",
        "DMP_AIR_TRANSACTIONS",
    ),
    "Délais": (
        "DMP_DELAI_REQUETE_S", "DMP_DELAI_RECHERCHE_S", "DMP_DELAI_ENVOI_S", "DMP_DELAI_RECUPERATION_S",
        "DMP_DELAI_CONNEXION_S", "DMP_FILE_DELAI_S", "DMP_TAILLE_MAX_REPONSE_MO",
    ),
    "Logiciel": ("DMP_LPS_NOM", "DMP_LPS_HOMOLOGATION", "DMP_LPS_OID", "DMP_MAJ_URL", "DMP_TYPES_RESERVES",
                 "DMP_VIHF_REUTILISATION_S"),
    "Données locales": (
        "DMP_STORE_DIR", "DMP_CACHE_AGE_MAX_H", "DMP_CACHE_TAILLE_MAX_MO", "DMP_CACHE_PURGE_FIN_SESSION",
        "DMP_SANDBOX_DIR",
    ),
    "Dossier de dépôt": (
        "DMP_DOSSIER_DEPOT",
        "DMP_DEPOT_MODE",
        "DMP_DEPOT_STABLE_S",
        "DMP_DEPOT_ACTIF",
        "DMP_DEPOT_AUTORISATION_REQUISE",
        "DMP_IDENTITE_CONSULTATION_QUALIFIEE",
    ),
}  # fmt: skip
LOCK = "verrouillé par l'administrateur"
LOCK_PLURAL = "verrouillés par l'administrateur"

# Settings that take one of a few values (app/config/settings.py reads them): a list, never free text.
CHOICES: dict[str, tuple[tuple[str, str], ...]] = {
    "DMP_PROFIL_HOTE": (("current", "actuel, Mon espace santé"), ("legacy", "historique")),
    "DMP_MODE_AUTH": (("carte", "carte CPS"), ("structure", "certificat de la structure")),
    "DMP_DEPOT_MODE": (("structure", "certificat de la structure"), ("carte", "carte CPS")),
}
# Numbers: (maximum, unit shown, decimals); a setting not listed: up to 1,000,000, whole.
NUMBERS: dict[str, tuple[float, str, int]] = {
    "DMP_CACHE_AGE_MAX_H": (24.0 * 366, " h", 0),
    "DMP_CACHE_TAILLE_MAX_MO": (100_000.0, " Mo", 0),
    "DMP_FILE_DELAI_S": (86_400.0, " s", 1),
    "DMP_DEPOT_STABLE_S": (3_600.0, " s", 1),
    "DMP_DELAI_REQUETE_S": (3_600.0, " s", 1),
    "DMP_DELAI_RECHERCHE_S": (3_600.0, " s", 1),
    "DMP_DELAI_ENVOI_S": (3_600.0, " s", 1),
    "DMP_DELAI_RECUPERATION_S": (3_600.0, " s", 1),
    "DMP_DELAI_CONNEXION_S": (600.0, " s", 1),
    "DMP_VIHF_REUTILISATION_S": (3_600.0, " s", 0),
}
Field = QLineEdit | QCheckBox | QComboBox | QDoubleSpinBox


def _same_number(a: str, b: str) -> bool:
    try:
        return float(a) == float(b or "0")
    except ValueError:
        return False


class SettingsDialog(QDialog):
    def __init__(self, config: Config, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Réglages")
        self.resize(760, 560)
        self.config = config
        self.saved: Config | None = None
        self.fields: dict[str, Field] = {}
        layout = QVBoxLayout(self)
        tabs = QTabWidget()
        for title, names in GROUPS.items():
            page = QWidget()
            form = QFormLayout(page)
            for name in names:
                form.addRow(self._label(name), self._field(name))
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(page)
            tabs.addTab(scroll, title)
        layout.addWidget(tabs)
        locked = sorted(config.locked_keys())
        n = len(locked)
        note = (
            f"{count(n, 'réglage')} {word(n, LOCK, LOCK_PLURAL)}."
            if n
            else "Aucun réglage verrouillé sur ce poste."
        )
        self.note = QLabel(note + " Les changements s'appliquent au prochain démarrage.")
        self.problem = QLabel()
        self.problem.setObjectName("probleme")
        self.problem.setWordWrap(True)
        layout.addWidget(self.note)
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _label(self, name: str) -> QLabel:
        key = KEYS[name]
        suffix = f" ({LOCK})" if self.config.is_locked(name) else ""
        label = QLabel(key.label + suffix)
        label.setWordWrap(True)
        label.setToolTip(f"{name} — {self.config.source(name).value}")
        return label

    def _field(self, name: str) -> QWidget:
        """A choice as a list, a number as a spin box, a flag as a box to tick, else a line."""
        key = KEYS[name]
        value = self.config.get(name) or ""
        field: Field
        if name in CHOICES:
            field = QComboBox()
            for code, label in CHOICES[name]:
                field.addItem(f"{label} ({code})", code)
            index = field.findData(value)
            if index < 0:  # a value the list does not know (set by hand): shown, kept as it is
                field.addItem(f"{value} (valeur actuelle, non reconnue)", value)
                index = field.count() - 1
            field.setCurrentIndex(index)
        elif key.kind is Kind.FLAG:
            field = QCheckBox()
            field.setChecked(value == "1")
        elif key.kind is Kind.NUMBER:
            field = QDoubleSpinBox()
            top, unit, decimals = NUMBERS.get(name, (1_000_000.0, "", 0))
            field.setRange(0.0, top)
            field.setDecimals(decimals)
            field.setSuffix(unit)
            field.setMaximumWidth(160)
            try:
                field.setValue(float(value or "0"))
            except ValueError:
                field.setValue(0.0)
        else:
            field = QLineEdit(value)
        field.setAccessibleName(key.label)
        field.setToolTip(f"{name} — {self.config.source(name).value}")
        if self.config.is_locked(name):
            field.setEnabled(False)
        self.fields[name] = field
        return field

    @staticmethod
    def _value(field: Field) -> str:
        if isinstance(field, QCheckBox):
            return "1" if field.isChecked() else "0"
        if isinstance(field, QComboBox):
            return str(field.currentData())
        if isinstance(field, QDoubleSpinBox):
            return f"{field.value():g}"
        return field.text().strip()

    def changes(self) -> dict[str, str | None]:
        """What the user changed: only unlocked settings whose value differs from the current one."""
        changed: dict[str, str | None] = {}
        for name, field in self.fields.items():
            if self.config.is_locked(name):
                continue
            value, current = self._value(field), self.config.get(name) or ""
            if isinstance(field, QDoubleSpinBox) and _same_number(value, current):
                continue
            if value != current:
                default = self.config.layers[Source.DEFAULT].get(name)
                changed[name] = None if value == (default or "") else value
        return changed

    def save(self) -> None:
        try:
            self.saved = self.config.save_user(self.changes())
        except ConfigError as error:
            self.problem.setText(f"{error.user_message} [{error.code}]")
            return
        self.accept()
