"""The settings dialog: every setting shown, grouped; a locked one cannot be changed; saved to the
user's file."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from app.config.layers import KEYS, Config
from app.ui.qt import QCheckBox, QLineEdit
from app.ui.settings_dialog import GROUPS, LOCK, SettingsDialog


def test_every_setting_has_a_place() -> None:
    placed = [name for names in GROUPS.values() for name in names]
    assert sorted(placed) == sorted(KEYS) and len(placed) == len(set(placed))


def test_a_locked_setting_is_shown_locked_and_the_others_are_saved(qtbot: QtBot, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[verrouilles]\nDMP_HOST_URL = "https://dmp.example/si-dmp-server/v2/services"\n')
    user = tmp_path / "reglages.toml"
    config = Config.load(environ={}, policy_file=policy, user_file=user, registry=None)
    dialog = SettingsDialog(config)
    qtbot.addWidget(dialog)
    host = dialog.fields["DMP_HOST_URL"]
    assert isinstance(host, QLineEdit) and not host.isEnabled()
    assert host.text() == "https://dmp.example/si-dmp-server/v2/services"
    assert "1 réglage " + LOCK in dialog.note.text()
    host.setText("https://ailleurs.example")  # even if the widget were changed, it is not saved
    proxy = dialog.fields["DMP_PROXY"]
    assert isinstance(proxy, QLineEdit)
    proxy.setText("http://mandataire:3128")
    purge = dialog.fields["DMP_CACHE_PURGE_FIN_SESSION"]
    assert isinstance(purge, QCheckBox)
    purge.setChecked(True)
    assert dialog.changes() == {"DMP_PROXY": "http://mandataire:3128", "DMP_CACHE_PURGE_FIN_SESSION": "1"}
    dialog.save()
    again = Config.load(environ={}, policy_file=policy, user_file=user, registry=None)
    assert again.get("DMP_PROXY") == "http://mandataire:3128"
    assert again.get("DMP_HOST_URL") == "https://dmp.example/si-dmp-server/v2/services"
