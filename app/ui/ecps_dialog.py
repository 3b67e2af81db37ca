"""« Se connecter avec e-CPS »: the professional's RPPS id (remembered per workstation user), the
channel (the e-CPS application on the phone, or the CPS card), then the two-digit code to check on
the phone shown large with the channel, the wait with the time left and « Annuler », and the
exercise to use when Pro Santé Connect gives several (OpenID Connect CIBA, docs/authentication.md).

Every exchange with Pro Santé Connect runs off the GUI thread (``app.ui.tasks``); the countdown is a
GUI timer over the request's deadline. The outcome is a :class:`EcpsLogin` handed to the main
window (``logged_in``), which opens the AIR session with it; a cancelled or failed attempt leaves no
session (its PSC client closed, a session already given by the provider logged out).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.dmp_client.core.psc_params import Channel
from app.ui.errors import describe
from app.ui.qt import (
    QComboBox,
    QDialog,
    QFont,
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.queue_panel import hbox
from app.ui.tasks import run_in_background

if TYPE_CHECKING:  # the JOSE and HTTP stacks load with the first login
    from app.dmp_client.core.psc import PscSession, Situation
    from app.dmp_client.psc_client import PendingLogin, PscClient
    from app.services.workspace import Workspace

CHANNELS = {
    Channel.MOBILE: "Application e-CPS du téléphone",
    Channel.CARD: "Carte CPS (lecteur sans contact)",
}
WHERE = {  # what the wait page says of where to approve
    Channel.MOBILE: "dans l'application e-CPS de votre téléphone",
    Channel.CARD: "avec votre carte CPS (lecteur sans contact)",
}
RPPS_HINT = "« 8 » suivi des 11 chiffres du n° RPPS"


def valid_rpps(text: str) -> bool:
    """The national id PSC expects as login_hint: « 8 » + 11 digits (app.dmp_client.core.psc)."""
    return len(text) == 12 and text.isascii() and text.isdigit() and text.startswith("8")


def situation_text(number: int, situation: Situation) -> str:
    name = situation.structure_name or situation.structure_id
    return f"n° {number} — {name} (structure {situation.structure_id}, secteur {situation.sector})"


@dataclass(frozen=True)
class EcpsLogin:
    """A validated e-CPS login and the exercise chosen (1-based; None: the only one)."""

    psc: PscClient
    session: PscSession
    situation: int | None


def _close(psc: PscClient, session: PscSession | None = None) -> None:
    """Off the GUI thread: end a session nobody will use, close the client (app.services.ecps)."""
    from app.services import ecps

    run_in_background(lambda: ecps.abandon(psc, session))


class EcpsDialog(QDialog):
    """Three pages: the form (RPPS id, channel, the last outcome), the wait (code, channel, time
    left, « Annuler »), the exercise choice. ``logged_in`` carries the :class:`EcpsLogin`."""

    logged_in = Signal(object)

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.setWindowTitle("Se connecter avec e-CPS (Pro Santé Connect)")
        self.setMinimumWidth(520)
        self.attempt = 0  # answers of an abandoned attempt are not used
        self.cancel = threading.Event()
        self.psc: PscClient | None = None
        self.pending: PendingLogin | None = None
        self.session: PscSession | None = None
        self.busy = False  # a request or the wait in flight
        self.pages = QStackedWidget()
        self.pages.addWidget(self._form_page())
        self.pages.addWidget(self._wait_page())
        self.pages.addWidget(self._choice_page())
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        self.timer = QTimer(self)
        self.timer.setInterval(250)
        self.timer.timeout.connect(self._tick)
        self.rpps.setFocus()

    # -- pages ------------------------------------------------------------------------------------

    def _form_page(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        column.addWidget(
            QLabel(
                "Connexion sans lecteur de carte : validez-la avec votre e-CPS. Le DMP est alors "
                "consulté en authentification indirecte renforcée (AIR), au nom de la structure."
            )
        )
        column.itemAt(0).widget().setWordWrap(True)  # type: ignore[union-attr]
        form = QFormLayout()
        self.rpps = QLineEdit(self.workspace.settings.psc_rpps or "")
        self.rpps.setMaxLength(12)
        self.rpps.setPlaceholderText(RPPS_HINT)
        self.rpps.setAccessibleName("Identifiant national RPPS")
        self.rpps.setToolTip(f"Identifiant national du professionnel : {RPPS_HINT} (mémorisé sur ce poste)")
        form.addRow("Identifiant RPPS :", self.rpps)
        self.channel = QComboBox()
        self.channel.setAccessibleName("Canal de validation")
        for channel, label in CHANNELS.items():
            self.channel.addItem(label, channel)
        self.channel.setCurrentIndex(max(0, self.channel.findData(self.workspace.settings.psc.channel)))
        form.addRow("Valider avec :", self.channel)
        column.addLayout(form)
        self.outcome = QLabel()
        self.outcome.setObjectName("resultat-ecps")
        self.outcome.setWordWrap(True)
        self.outcome.setTextFormat(Qt.TextFormat.PlainText)
        column.addWidget(self.outcome)
        self.outcome.hide()
        self.start_button = QPushButton("&Se connecter")
        self.start_button.setDefault(True)
        self.close_button = QPushButton("Fermer")
        column.addLayout(hbox(1, self.start_button, self.close_button))
        self.start_button.clicked.connect(self.begin)
        self.close_button.clicked.connect(self.reject)
        self.rpps.textChanged.connect(self._rpps_changed)
        self.rpps.returnPressed.connect(self.begin)
        self._rpps_changed(self.rpps.text())
        return page

    def _wait_page(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        self.wait_title = QLabel("Vérifiez que ce code s'affiche, puis validez la connexion :")
        self.wait_title.setWordWrap(True)
        column.addWidget(self.wait_title)
        self.code = QLabel("··")
        self.code.setObjectName("code-ecps")
        self.code.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.code.setAccessibleName("Code à vérifier")
        font = QFont(self.code.font())
        font.setPointSize(44)
        font.setBold(True)
        font.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 12)
        self.code.setFont(font)
        column.addWidget(self.code)
        self.where = QLabel()
        self.where.setObjectName("canal-ecps")
        self.where.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.where.setWordWrap(True)
        column.addWidget(self.where)
        self.left = QLabel()
        self.left.setObjectName("temps-restant")
        self.left.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column.addWidget(self.left)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        column.addWidget(self.progress)
        self.cancel_button = QPushButton("&Annuler")
        self.cancel_button.setToolTip("Ne plus attendre la validation (la demande est abandonnée)")
        column.addLayout(hbox(1, self.cancel_button))
        self.cancel_button.clicked.connect(self.stop_waiting)
        return page

    def _choice_page(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        self.choice_title = QLabel()
        self.choice_title.setWordWrap(True)
        column.addWidget(self.choice_title)
        self.situations = QComboBox()
        self.situations.setAccessibleName("Situation d'exercice")
        column.addWidget(self.situations)
        self.choose_button = QPushButton("&Valider")
        self.choose_button.setDefault(True)
        self.abandon_button = QPushButton("Annuler")
        column.addLayout(hbox(1, self.choose_button, self.abandon_button))
        self.choose_button.clicked.connect(lambda: self._finish(int(self.situations.currentData())))
        self.abandon_button.clicked.connect(self._abandon_choice)
        return page

    # -- the login ---------------------------------------------------------------------------------

    def _rpps_changed(self, text: str) -> None:
        self.start_button.setEnabled(valid_rpps(text.strip()) and not self.busy)

    def begin(self) -> None:
        """Send the backchannel request (off the GUI thread), then show the code and wait."""
        rpps = self.rpps.text().strip()
        if self.busy or not valid_rpps(rpps):
            if not self.busy:
                self._say(f"Identifiant incorrect : {RPPS_HINT}.")
            return
        self.attempt += 1
        attempt, cancel = self.attempt, threading.Event()
        self.cancel = cancel
        channel = Channel(self.channel.currentData())
        self._set_busy(True)
        self._say("Demande envoyée à Pro Santé Connect…", error=False)
        workspace = self.workspace

        def start() -> tuple[PscClient, PendingLogin]:
            psc = workspace.open_psc()
            try:
                return psc, psc.start(rpps, channel=channel)
            except BaseException:
                psc.close()
                raise

        run_in_background(
            start, lambda started: self._started(attempt, *started), lambda e: self._failed(attempt, e)
        )

    def _started(self, attempt: int, psc: PscClient, pending: PendingLogin) -> None:
        if attempt != self.attempt or self.cancel.is_set():
            _close(psc)  # abandoned meanwhile: the request is left to expire
            return
        self.psc, self.pending = psc, pending
        self.code.setText(pending.binding_message)
        self.wait_title.setText(
            f"Demande envoyée à Pro Santé Connect pour l'identifiant {self.rpps.text().strip()}. "
            "Vérifiez que ce code s'affiche, puis validez la connexion :"
        )
        self.where.setText(f"Validez {WHERE[pending.channel]} (canal {pending.channel.value}).")
        self.progress.setRange(0, max(1, int(pending.deadline - psc.clock())))
        self._tick()
        self.timer.start()
        self.pages.setCurrentIndex(1)
        self.cancel_button.setFocus()
        cancel, workspace = self.cancel, self.workspace

        def wait() -> PscSession:
            try:
                session = psc.wait(pending, cancel=cancel)
            except BaseException:  # refused, expired, cancelled…: the client is not kept
                psc.close()
                raise
            workspace.remember_rpps(session.identity.national_id)  # the user's settings file
            return session

        run_in_background(wait, lambda s: self._approved(attempt, psc, s), lambda e: self._failed(attempt, e))

    def _tick(self) -> None:
        if self.pending is None or self.psc is None:
            return
        left = max(0, int(self.pending.deadline - self.psc.clock() + 0.999))
        self.left.setText(f"Temps restant : {left // 60}:{left % 60:02d}")
        self.progress.setValue(min(self.progress.maximum(), left))

    def _approved(self, attempt: int, psc: PscClient, session: PscSession) -> None:
        if attempt != self.attempt:
            _close(psc, session)  # abandoned meanwhile: the provider's session is ended
            return
        self.timer.stop()
        self.psc, self.session = psc, session
        self._set_busy(False)
        situations = session.identity.situations
        if len(situations) > 1:
            self.situations.clear()
            for number, situation in enumerate(situations, start=1):
                self.situations.addItem(situation_text(number, situation), number)
            self.choice_title.setText(
                f"Connecté : {session.identity.display_name}. Pro Santé Connect donne plusieurs "
                "situations d'exercice : choisissez celle de cette session (la structure et le secteur "
                "du VIHF)."
            )
            self.pages.setCurrentIndex(2)
            self.situations.setFocus()
            return
        self._finish(None)

    def _finish(self, situation: int | None) -> None:
        psc, session = self.psc, self.session
        if psc is None or session is None:
            return
        if situation is None:
            try:
                session.identity.situation(None)  # none usable: PSC-EXERCICE-ABSENT now
            except Exception as error:  # a project error, said on the form
                _close(psc, session)
                self._failed(self.attempt, error)
                return
        self.psc = self.session = self.pending = None  # the main window owns them now
        self.logged_in.emit(EcpsLogin(psc, session, situation))
        self.accept()

    def _failed(self, attempt: int, error: BaseException) -> None:
        if attempt != self.attempt:
            return
        self.timer.stop()
        self.psc = self.session = self.pending = None  # closed by the worker that failed
        self._set_busy(False)
        code, message = describe(error)
        self._say(f"{message} [{code}]")
        self.pages.setCurrentIndex(0)
        self.rpps.setFocus()

    def stop_waiting(self) -> None:
        """« Annuler »: the wait stops at once (the worker ends with PSC-ANNULE, said on the form)."""
        self.cancel.set()
        if not self.busy:
            self.pages.setCurrentIndex(0)

    def _abandon_choice(self) -> None:
        psc, session = self.psc, self.session
        self.psc = self.session = self.pending = None
        if psc is not None:
            _close(psc, session)
        self._say("Situation d'exercice non choisie : connexion e-CPS abandonnée.")
        self.pages.setCurrentIndex(0)

    def reject(self) -> None:
        """Fermer, Échap, the window's close: nothing in flight goes on, no session is kept."""
        self.cancel.set()
        self.attempt += 1
        self.timer.stop()
        psc, session = self.psc, self.session
        self.psc = self.session = self.pending = None
        if psc is not None and session is not None:  # the exercise choice: the session is ended
            _close(psc, session)
        # While waiting, the wait's worker closes its client when PSC-ANNULE comes back.
        self._set_busy(False)
        super().reject()

    # -- helpers -------------------------------------------------------------------------------------

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.rpps.setEnabled(not busy)
        self.channel.setEnabled(not busy)
        self._rpps_changed(self.rpps.text())

    def _say(self, text: str, *, error: bool = True) -> None:
        self.outcome.setText(text)
        self.outcome.setStyleSheet("color: #b00020;" if error else "")
        self.outcome.setVisible(bool(text))
