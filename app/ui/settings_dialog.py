"""Settings: every layered setting (docs/configuration.md) grouped by theme; a setting the machine
policy locks is shown locked and cannot be changed; where each value comes from is shown. Saved to
the user's settings file; they apply at the next start."""

from __future__ import annotations

from app.config import KEYS, Config, ConfigError, Kind, Source
from app.ui.qt import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

GROUPS = {
    "Hôte DMP": ("DMP_HOST_URL", "DMP_PROFIL_HOTE", "DMP_TRUST_FILES", "DMP_PROXY"),
    "Authentification": (
        "DMP_MODE_AUTH", "DMP_PKCS11_MODULE", "DMP_STRUCTURE_CERT_AUTH", "DMP_STRUCTURE_CLE_AUTH",
        "DMP_STRUCTURE_CERT_SIGN", "DMP_STRUCTURE_CLE_SIGN", "DMP_STRUCTURE_ID", "DMP_STRUCTURE_NOM",
        "DMP_STRUCTURE_SECTEUR", "DMP_STRUCTURE_AUTEUR",
    ),
    "Délais": (
        "DMP_DELAI_REQUETE_S", "DMP_DELAI_RECHERCHE_S", "DMP_DELAI_ENVOI_S", "DMP_DELAI_RECUPERATION_S",
        "DMP_DELAI_CONNEXION_S", "DMP_FILE_DELAI_S", "DMP_TAILLE_MAX_REPONSE_MO",
    ),
    "Logiciel": ("DMP_LPS_NOM", "DMP_LPS_HOMOLOGATION", "DMP_LPS_OID", "DMP_MAJ_URL"),
    "Données locales": (
        "DMP_STORE_DIR", "DMP_CACHE_AGE_MAX_H", "DMP_CACHE_TAILLE_MAX_MO", "DMP_CACHE_PURGE_FIN_SESSION",
        "DMP_SANDBOX_DIR",
    ),
}  # fmt: skip
LOCK = "verrouillé par l'administrateur"


class SettingsDialog(QDialog):
    def __init__(self, config: Config, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Réglages")
        self.resize(760, 560)
        self.config = config
        self.saved: Config | None = None
        self.fields: dict[str, QLineEdit | QCheckBox] = {}
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
        note = f"{len(locked)} réglage(s) {LOCK}." if locked else "Aucun réglage verrouillé sur ce poste."
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
        label.setToolTip(f"{name} — {self.config.source(name).value}")
        return label

    def _field(self, name: str) -> QWidget:
        key = KEYS[name]
        value = self.config.get(name) or ""
        field: QLineEdit | QCheckBox
        if key.kind is Kind.FLAG:
            field = QCheckBox()
            field.setChecked(value == "1")
        else:
            field = QLineEdit(value)
            if key.kind is Kind.NUMBER:
                field.setMaximumWidth(120)
        field.setAccessibleName(key.label)
        field.setToolTip(f"{name} — {self.config.source(name).value}")
        if self.config.is_locked(name):
            field.setEnabled(False)
        self.fields[name] = field
        return field

    def changes(self) -> dict[str, str | None]:
        """What the user changed: only unlocked settings whose value differs from the current one."""
        changed: dict[str, str | None] = {}
        for name, field in self.fields.items():
            if self.config.is_locked(name):
                continue
            value = (
                ("1" if field.isChecked() else "0") if isinstance(field, QCheckBox) else field.text().strip()
            )
            if value != (self.config.get(name) or ""):
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
