"""The Panel approval dashboard: log in, read the inventory and a version's evidence, act by role.

Every action goes through the governance service, so the app obeys the same rules as the CLI: actions a
user's role does not allow are not offered, and the service refuses them if forced. Nothing is fetched from
the internet: Panel serves its own resources and the documents are self-contained HTML.
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import pandas as pd
import panel as pn

from workbench.dashboard._data import version_view
from workbench.governance import (
    RULES,
    AuditTrail,
    AuthenticationError,
    GovernanceError,
    GovernanceService,
    MlflowVersionStore,
    User,
    UserError,
    UserStore,
    inventory,
)
from workbench.registry import configure


def _frame(table: pd.DataFrame, height: int = 260) -> pn.widgets.Tabulator:
    return pn.widgets.Tabulator(
        table, disabled=True, show_index=False, height=height, sizing_mode="stretch_width", layout="fit_data_table"
    )


class Dashboard:
    """One browser session: a login form, then the inventory and the version page."""

    def __init__(self) -> None:
        self.client = configure()
        self.audit = AuditTrail()
        self.service = GovernanceService(MlflowVersionStore(self.client), self.audit)
        self.users = UserStore()
        self.user: User | None = None
        self.root = pn.Column(sizing_mode="stretch_width")
        self.message = pn.pane.Alert("", alert_type="light", visible=False, name="message")
        self._show_login()

    # --- login ---------------------------------------------------------------------------------------------

    def _show_login(self) -> None:
        self.username = pn.widgets.TextInput(name="User", placeholder="user name")
        self.password = pn.widgets.PasswordInput(name="Password", placeholder="password")
        button = pn.widgets.Button(name="Log in", button_type="primary")
        button.on_click(self._login)
        self.login_error = pn.pane.Alert("", alert_type="danger", visible=False)
        self.root[:] = [
            pn.pane.Markdown("# MRM Workbench\n\nLog in to review and act on models."),
            self.username,
            self.password,
            button,
            self.login_error,
        ]

    def _login(self, _event=None) -> None:
        try:
            # throttled and audited like the CLI: a growing wait after repeated failures, then a lock
            self.user = self.users.authenticate(self.username.value.strip(), self.password.value, channel="app")
        except (AuthenticationError, UserError) as error:
            self.login_error.object = str(error)
            self.login_error.visible = True
            return
        self._show_main()

    def _logout(self, _event=None) -> None:
        self.user = None
        self._show_login()

    # --- main view -----------------------------------------------------------------------------------------

    def _show_main(self) -> None:
        assert self.user is not None
        logout = pn.widgets.Button(name="Log out", button_type="light", width=90)
        logout.on_click(self._logout)
        header = pn.Row(
            pn.pane.Markdown(f"## MRM Workbench — {self.user.name} ({', '.join(self.user.roles)})"),
            pn.layout.HSpacer(),
            logout,
        )
        table = inventory(self.client)
        self.models = sorted(table["model"].unique()) if len(table) else []
        self.model_select = pn.widgets.Select(name="Model", options=self.models, width=220)
        self.version_select = pn.widgets.Select(name="Version", options=[], width=120)
        self.model_select.param.watch(self._model_changed, "value")
        open_button = pn.widgets.Button(name="Open version", button_type="primary", width=140)
        open_button.on_click(self._open_version)
        self.version_page = pn.Column(sizing_mode="stretch_width")
        overdue = int(table["overdue"].sum()) if len(table) else 0
        grid = _frame(table, height=320)
        # overdue reviews stand out
        grid.style.apply(
            lambda row: ["background-color: #fde2e1; font-weight: bold" if row["overdue"] else "" for _ in row], axis=1
        )
        # a row opens its version
        grid.on_click(lambda event: self._open_row(table, event.row))
        inventory_tab = pn.Column(
            pn.pane.Markdown(
                f"### Model inventory\n{len(table)} version(s); **{overdue} overdue for review**; "
                "a row opens its version"
            ),
            grid,
            sizing_mode="stretch_width",
        )
        version_tab = pn.Column(
            pn.Row(self.model_select, self.version_select, open_button),
            self.message,
            self.version_page,
            sizing_mode="stretch_width",
        )
        self.tabs = pn.Tabs(("Inventory", inventory_tab), ("Version", version_tab), dynamic=False)
        self.root[:] = [header, self.tabs]
        if self.models:
            self._model_changed()
        self._follow_link()

    # --- links: a URL per model and version -----------------------------------------------------------------

    def _follow_link(self) -> None:
        """Open the version the page's URL names (``?model=NAME&version=N``), once logged in."""
        location = pn.state.location
        query = parse_qs((location.search if location is not None else "").lstrip("?"))
        name, version = query.get("model", [None])[0], query.get("version", [None])[0]
        if name not in self.models:
            return
        self.model_select.value = name
        versions = list(self.version_select.options)
        if version is not None and version.isdigit() and int(version) in versions:
            self.version_select.value = int(version)
        self.tabs.active = 1
        self._open_version()

    def _link_to(self, name: str, version: int) -> None:
        """Put the open version in the page's URL, so it can be bookmarked and shared."""
        if pn.state.location is not None:
            pn.state.location.search = "?" + urlencode({"model": name, "version": version})

    def _model_changed(self, _event=None) -> None:
        name = self.model_select.value
        versions = sorted((int(v.version) for v in self.client.search_model_versions(f"name='{name}'")), reverse=True)
        self.version_select.options = versions
        if versions:
            self.version_select.value = versions[0]

    def _open_row(self, table: pd.DataFrame, row: int) -> None:
        if row is None or not 0 <= row < len(table):
            return
        self.tabs.active = 1
        self.open(str(table.iloc[row]["model"]), int(table.iloc[row]["version"]))

    def open(self, name: str, version: int) -> None:
        """Show a version's page (also used by the inventory's links)."""
        self.model_select.value = name
        self.version_select.value = version
        self._open_version()

    def _open_version(self, _event=None) -> None:
        name, version = self.model_select.value, self.version_select.value
        if name is None or version is None:
            return
        view = version_view(self.client, self.audit, name, int(version))
        tags = view.tags
        facts = pn.pane.Markdown(
            f"### {name} version {version}\n\n"
            f"**Status:** <span id='status'>{view.status}</span> {' '.join('@' + a for a in view.aliases)} · "
            f"risk tier {tags.get('risk_tier', '?')} · owner {tags.get('owner', '?')}\n\n"
            f"developed by **{tags.get('developed_by', '-')}** · validated by **{tags.get('validated_by', '-')}** "
            f"({tags.get('validation_outcome', 'not validated')}) · approved by **{tags.get('approved_by', '-')}**\n\n"
            f"open findings: {tags.get('open_findings_high', 0)} high, {tags.get('open_findings_medium', 0)} medium, "
            f"{tags.get('open_findings_low', 0)} low · model sha256 `{tags.get('model_sha256', '')[:16]}…`",
            name="facts",
        )
        self._link_to(name, int(version))
        sections = [facts]
        sections.append(pn.pane.Markdown("#### Validation summary"))
        sections.append(
            _frame(view.validation_summary)
            if len(view.validation_summary)
            else pn.pane.Markdown("*No validation evidence recorded.*")
        )
        sections.append(pn.pane.Markdown("#### Open findings"))
        sections.append(_frame(view.findings, 220) if len(view.findings) else pn.pane.Markdown("*No findings.*"))
        for label, path in view.documents.items():
            with open(path, encoding="utf-8") as handle:
                document = handle.read()
            sections.append(pn.pane.Markdown(f"#### {label}"))
            pdf = Path(path).with_suffix(".pdf")
            if pdf.is_file():
                sections.append(
                    pn.widgets.FileDownload(
                        file=str(pdf), filename=pdf.name, label=f"Download {label} (PDF)", button_type="light"
                    )
                )
            sections.append(
                pn.pane.HTML(
                    f'<iframe title="{html.escape(label)}" srcdoc="{html.escape(document)}" '
                    'style="width:100%;height:700px;border:1px solid #ccd"></iframe>',
                    sizing_mode="stretch_width",
                )
            )
        if not view.documents:
            sections.append(pn.pane.Markdown("*No documents built yet (`workbench document`).*"))
        sections.append(pn.pane.Markdown("#### Audit history"))
        sections.append(_frame(view.history, 240))
        # the decision comes last, after the evidence it rests on
        sections.append(pn.pane.Markdown("### Actions"))
        sections.append(self._actions(view))
        self.version_page[:] = sections

    # --- actions by role -----------------------------------------------------------------------------------

    def _actions(self, view) -> pn.Column:
        assert self.user is not None
        user, status, tags = self.user, view.status, view.tags
        widgets: list = []
        independent = user.name not in (tags.get("developed_by"), tags.get("validated_by"))
        approvable = (*RULES["approve"].from_states, *RULES["approve_override"].from_states)
        if user.has("validator") and user.name != tags.get("developed_by") and status in RULES["validate"].from_states:
            outcome = pn.widgets.Select(name="Validation outcome", options=["validated", "findings open"])
            reason = pn.widgets.TextAreaInput(name="Validation conclusion (mandatory)", height=70, width=640)
            record = pn.widgets.Button(name="Record validation outcome", button_type="primary")
            counts = {k: int(tags.get(f"open_findings_{k}", 0) or 0) for k in ("high", "medium", "low")}
            record.on_click(
                lambda _e: self._do(
                    self.service.record_validation,
                    view,
                    outcome.value,
                    reason.value,
                    counts,
                    tags.get("validation_run_id", ""),
                )
            )
            widgets += [pn.pane.Markdown("#### Validator"), outcome, reason, record]
        if (
            user.has("validator")
            and user.name != tags.get("developed_by")
            and status in RULES["add_finding"].from_states
        ):
            severity = pn.widgets.Select(name="Finding severity", options=["high", "medium", "low"], width=160)
            title = pn.widgets.TextInput(name="Finding", width=640)
            remediation = pn.widgets.TextInput(name="Remediation expected", width=640)
            add = pn.widgets.Button(name="Record finding")
            add.on_click(
                lambda _e: self._do(self.service.add_finding, view, severity.value, title.value, remediation.value)
            )
            widgets += [pn.Row(severity, title), remediation, add]
        if user.has("approver") and independent and status in approvable:
            comment = pn.widgets.TextAreaInput(name="Comment (mandatory)", height=70, width=640)
            conditions = pn.widgets.TextInput(name="Conditions", width=640)
            approve = pn.widgets.Button(name="Approve", button_type="success")
            reject = pn.widgets.Button(name="Reject", button_type="danger")
            override = pn.widgets.TextAreaInput(
                name="Override justification (approving a version that is not "
                "validated; recorded as a high-severity finding)",
                height=60,
                width=640,
                visible=status not in RULES["approve"].from_states,
            )
            needs_override = status not in RULES["approve"].from_states
            confirm = pn.widgets.Checkbox(
                name="I approve a version that is not validated; the override is recorded as a high-severity finding",
                visible=needs_override,
            )

            def _approve(_event) -> None:
                if needs_override and not (override.value.strip() and confirm.value):
                    self.message.object = (
                        "This version is not validated (high-severity findings are open): approving it needs an "
                        "override justification and the confirmation box ticked."
                    )
                    self.message.alert_type, self.message.visible = "warning", True
                    return
                self._do(self.service.approve, view, comment.value, conditions.value, override.value)

            approve.on_click(_approve)
            reject.on_click(lambda _e: self._do(self.service.reject, view, comment.value))
            notice = pn.pane.Alert(
                f"{view.name} v{view.version} is {status}, not validated: high-severity findings are open. Approving "
                "it needs an override justification, recorded with the approval as a high-severity finding.",
                alert_type="warning",
                visible=needs_override,
                name="override-needed",
            )
            widgets += [
                pn.pane.Markdown("#### Committee decision"),
                notice,
                comment,
                conditions,
                override,
                confirm,
                pn.Row(approve, reject),
            ]
        if user.has("deployer") and status in RULES["promote_champion"].from_states:
            reason = pn.widgets.TextInput(name="Reason (mandatory)", width=640)
            champion = pn.widgets.Button(name="Promote to champion", button_type="primary")
            champion.on_click(lambda _e: self._do(self.service.promote, view, "champion", reason.value))
            buttons = [champion]
            if status in RULES["promote_challenger"].from_states:
                challenger = pn.widgets.Button(name="Deploy as challenger")
                challenger.on_click(lambda _e: self._do(self.service.promote, view, "challenger", reason.value))
                buttons.append(challenger)
            widgets += [pn.pane.Markdown("#### Deployment"), reason, pn.Row(*buttons)]
        if (user.has("deployer") or user.has("admin")) and status in RULES["archive"].from_states:
            why = pn.widgets.TextInput(name="Reason to archive (mandatory)", width=640)
            archive = pn.widgets.Button(name="Archive", button_type="warning")
            archive.on_click(lambda _e: self._do(self.service.archive, view, why.value))
            widgets += [pn.pane.Markdown("#### Retire"), why, archive]
        if not widgets:
            widgets = [
                pn.pane.Markdown(
                    f"*No action is open to {user.name} ({', '.join(user.roles)}) on this version in status {status}.*"
                )
            ]
        return pn.Column(*widgets, sizing_mode="stretch_width")

    def _do(self, action, view, *args) -> None:
        assert self.user is not None
        try:
            record = action(self.user, view.name, view.version, *args)
        except (GovernanceError, ValueError) as error:
            self.message.object, self.message.alert_type = str(error), "danger"
        else:
            self.message.object = (
                f"{record['action']} recorded: {record['before']} → {record['after']} (audit record {record['seq']})"
            )
            self.message.alert_type = "success"
        self.message.visible = True
        self._open_version()


def create_dashboard() -> pn.viewable.Viewable:
    """A new dashboard for one browser session."""
    pn.extension("tabulator", notifications=False)
    return Dashboard().root


def serve(port: int = 5006, address: str = "127.0.0.1", show: bool = False):
    """Serve the dashboard with Panel's own server (blocking)."""
    pn.extension("tabulator")
    return pn.serve(
        {"app": create_dashboard},
        port=port,
        address=address,
        show=show,
        title="MRM Workbench",
        websocket_origin=[f"{address}:{port}", f"localhost:{port}"],
        threaded=False,
    )
