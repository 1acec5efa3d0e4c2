"""Preferences pages made only of office settings: matching, compose, case log, alerts, polling."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_sms.domain.states import DEFAULT_MATCHING_MODE, MatchingMode
from desktop_sms.services.settings import SettingsService
from desktop_sms.ui.dialogs.preferences.base import SettingsPage, note_label

ALERT_DISMISS_NOTE = "Dismissing an alert dismisses it for everyone who can see it."


def _bool_text(checked: bool) -> str:
    return "true" if checked else "false"


def _int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        return 0  # a damaged stored value: show the minimum; saving rewrites it


def _is_true(raw: str) -> bool:
    return raw.strip().lower() in ("true", "yes", "on", "1")


class MatchingPage(SettingsPage):
    """Inbound message matching: the four modes of docs/product.md F6 with their descriptions."""

    title = "Inbound message matching"

    def __init__(self, settings: SettingsService, parent: QWidget | None = None) -> None:
        super().__init__(settings, parent)
        intro = note_label("When a reply arrives, Desktop SMS files it on cases by this rule. "
                           "The rule in force when a reply is processed is the one used; "
                           "changing it does not re-file earlier replies.")
        self.body.addWidget(intro)
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[MatchingMode, QRadioButton] = {}
        box = QGroupBox("File each reply on")
        column = QVBoxLayout(box)
        for mode in MatchingMode:
            label = mode.label + (" (default)" if mode is DEFAULT_MATCHING_MODE else "")
            button = QRadioButton(label)
            button.setObjectName(f"matching_{mode.value}")
            self.mode_group.addButton(button)
            self.mode_buttons[mode] = button
            self.editable_widget(button)
            description = note_label(mode.description)
            description.setContentsMargins(24, 0, 0, 6)
            column.addWidget(button)
            column.addWidget(description)
        self.body.addWidget(box)
        recommended = next(m for m in MatchingMode if m.is_recommended)
        self.body.addWidget(note_label(
            f"Most people expect “{recommended.label}”: a reply goes to the case that last "
            "texted that number."))
        self.bind("inbound_matching", self._mode, self._show_mode)

    def _mode(self) -> str:
        for mode, button in self.mode_buttons.items():
            if button.isChecked():
                return mode.value
        return ""

    def _show_mode(self, raw: str) -> None:
        try:
            self.mode_buttons[MatchingMode(raw)].setChecked(True)
        except ValueError:
            self.mode_buttons[DEFAULT_MATCHING_MODE].setChecked(True)


class ComposePage(SettingsPage):
    """Compose: whether consent is required before texting, and what staff are told to ask."""

    title = "Compose"

    def __init__(self, settings: SettingsService, parent: QWidget | None = None) -> None:
        super().__init__(settings, parent)
        self.consent_required = QCheckBox("Require the client's SMS consent before texting")
        self.editable_widget(self.consent_required)
        self.instructions = QPlainTextEdit()
        self.instructions.setObjectName("consentInstructions")
        self.instructions.setAccessibleName("Consent instructions")
        self.instructions.setTabChangesFocus(True)
        self.instructions.setMaximumHeight(120)
        self.editable_widget(self.instructions)
        self.body.addWidget(self.consent_required)
        self.body.addWidget(QLabel("Consent instructions shown in the compose window:"))
        self.body.addWidget(self.instructions)
        self.bind("sms_consent_required", lambda: _bool_text(self.consent_required.isChecked()),
                  lambda raw: self.consent_required.setChecked(_is_true(raw)))
        self.bind("sms_consent_instructions", self.instructions.toPlainText,
                  self.instructions.setPlainText)
        self._add_consent_and_quiet_hours()

    def _add_consent_and_quiet_hours(self) -> None:
        """The consent request by text, opt-out overrides and quiet hours
        (docs/consent_and_quiet_hours.md)."""
        self.request_text = QPlainTextEdit()
        self.request_text.setObjectName("consentRequestText")
        self.request_text.setAccessibleName("Consent request text")
        self.request_text.setTabChangesFocus(True)
        self.request_text.setMaximumHeight(80)
        self.office_name = QLineEdit()
        self.quiet_hours = QLineEdit()
        self.quiet_hours.setPlaceholderText("21:00-08:00 or off")
        self.office_name.setAccessibleName("Office name")
        self.quiet_hours.setAccessibleName("Quiet hours")
        self.strict_states = QCheckBox("Use the stricter quiet hours of FL, OK, MD, MS, NJ and CT")
        self.allow_override = QCheckBox("Allow texting another number of a client who replied "
                                        "STOP (a reason is required and audited)")
        for widget in (self.request_text, self.office_name, self.quiet_hours,
                       self.strict_states, self.allow_override):
            self.editable_widget(widget)
        self.body.addWidget(QLabel("Consent request sent by Ask by text… ({office} is the "
                                   "office name):"))
        self.body.addWidget(self.request_text)
        self.body.addWidget(QLabel("Office name:"))
        self.body.addWidget(self.office_name)
        self.body.addWidget(QLabel("Quiet hours (recipient's local time):"))
        self.body.addWidget(self.quiet_hours)
        self.body.addWidget(self.strict_states)
        self.body.addWidget(self.allow_override)
        self.bind("consent_request_text", self.request_text.toPlainText,
                  self.request_text.setPlainText)
        self.bind("office_name", self.office_name.text, self.office_name.setText)
        self.bind("quiet_hours", self.quiet_hours.text, self.quiet_hours.setText)
        self.bind("quiet_hours_strict_states",
                  lambda: _bool_text(self.strict_states.isChecked()),
                  lambda raw: self.strict_states.setChecked(_is_true(raw)))
        self.bind("allow_opt_out_override",
                  lambda: _bool_text(self.allow_override.isChecked()),
                  lambda raw: self.allow_override.setChecked(_is_true(raw)))


class CaseLogPage(SettingsPage):
    """Case SMS log: whether a matter shows its conversation tab."""

    title = "Case SMS log"

    def __init__(self, settings: SettingsService, parent: QWidget | None = None) -> None:
        super().__init__(settings, parent)
        self.case_sms_log = QCheckBox("Show the SMS log tab on each case")
        self.editable_widget(self.case_sms_log)
        self.body.addWidget(self.case_sms_log)
        self.body.addWidget(note_label(
            "The SMS log shows every text sent from a case and every reply filed on it, "
            "oldest first."))
        self.bind("case_sms_log", lambda: _bool_text(self.case_sms_log.isChecked()),
                  lambda raw: self.case_sms_log.setChecked(_is_true(raw)))


class AlertsPage(SettingsPage):
    """Home alerts: primary assignment only, or any current assignment."""

    title = "Home alerts"

    def __init__(self, settings: SettingsService, parent: QWidget | None = None) -> None:
        super().__init__(settings, parent)
        box = QGroupBox("Show a reply on the Home page of")
        column = QVBoxLayout(box)
        self.primary = QRadioButton("The case's primary assignee only (default)")
        self.all = QRadioButton("Everyone currently assigned to the case")
        group = QButtonGroup(self)
        for button in (self.primary, self.all):
            group.addButton(button)
            self.editable_widget(button)
            column.addWidget(button)
        self.body.addWidget(box)
        self.body.addWidget(note_label(ALERT_DISMISS_NOTE, "alertDismissNote"))
        self.bind("alert_scope", lambda: "all" if self.all.isChecked() else "primary",
                  lambda raw: (self.all if raw == "all" else self.primary).setChecked(True))


class PollingPage(SettingsPage):
    """Polling and numbers: poll interval, first look-back, overdue grace, default region."""

    title = "Polling"

    def __init__(self, settings: SettingsService, parent: QWidget | None = None) -> None:
        super().__init__(settings, parent)
        self.poll_interval = self._spin(5, 3600, " seconds")
        self.lookback = self._spin(0, 365, " days")
        self.grace = self._spin(0, 1440, " minutes")
        self.region = QLineEdit()
        self.region.setMaxLength(2)
        self.region.setMaximumWidth(60)
        self.editable_widget(self.region)
        form = QFormLayout()
        form.addRow("Check for replies every", self.poll_interval)
        form.addRow("On the first check, look back", self.lookback)
        form.addRow("A scheduled text is overdue after", self.grace)
        form.addRow("Default country for phone numbers", self.region)
        self.body.addLayout(form)
        self.body.addWidget(note_label(
            "The poll interval and the matching rule apply at once; there is no need to "
            "restart. The country is a two-letter code such as US."))
        self.bind("poll_interval_seconds", lambda: str(self.poll_interval.value()),
                  lambda raw: self.poll_interval.setValue(_int(raw)))
        self.bind("first_poll_lookback_days", lambda: str(self.lookback.value()),
                  lambda raw: self.lookback.setValue(_int(raw)))
        self.bind("overdue_grace_minutes", lambda: str(self.grace.value()),
                  lambda raw: self.grace.setValue(_int(raw)))
        self.bind("default_region", lambda: self.region.text().strip().upper(),
                  self.region.setText)

    def _spin(self, low: int, high: int, suffix: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSuffix(suffix)
        self.editable_widget(spin)
        return spin
