"""The Panel approval dashboard: the inventory, a version's evidence and decision, monitoring, the audit log.

Every action goes through the governance service, so the app obeys the same rules as the CLI: actions a
user's role does not allow are not offered, and the service refuses them if forced. Who is logged in comes
from Panel's signed session cookie (:mod:`workbench.dashboard._auth`). Nothing is fetched from the internet:
Panel serves its own resources (Bootstrap template included) and the documents are self-contained HTML.
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import panel as pn

from workbench.dashboard._auth import WorkbenchAuthProvider, cookie_secret, session_hours
from workbench.dashboard._data import audit_log, monitoring_view, version_view
from workbench.dashboard._look import ACCENT, table, tone_style
from workbench.governance import (
    RULES,
    AuditTrail,
    GovernanceError,
    GovernanceService,
    MlflowVersionStore,
    User,
    UserError,
    UserStore,
    inventory,
)
from workbench.registry import configure

_INVENTORY_TITLES = {
    "risk_tier": "tier",
    "developed_by": "developer",
    "validated_by": "validator",
    "approved_by": "approver",
    "last_validation": "validated",
    "next_review_due": "next review",
}


def _badge(value: str, element_id: str | None = None) -> str:
    """An outcome or status as a coloured label (the same colours as the tables)."""
    ident = f" id='{element_id}'" if element_id else ""
    return f"<span{ident} style='{tone_style(value)}; padding: 1px 8px; border-radius: 4px'>{html.escape(value)}</span>"


class Dashboard:
    """One browser session of a logged-in user: inventory, version page, monitoring and audit log."""

    def __init__(self, user_name: str | None = None) -> None:
        self.client = configure()
        self.audit = AuditTrail()
        self.service = GovernanceService(MlflowVersionStore(self.client), self.audit)
        self.users = UserStore()
        self.root = pn.Column(sizing_mode="stretch_width")
        self.message = pn.pane.Alert("", alert_type="light", visible=False, name="message")
        name = user_name if user_name is not None else (pn.state.user or "")
        try:  # the cookie names who logged in; roles are read now, so a changed role counts at once
            self.user: User | None = self.users.get(name)
        except UserError as error:  # removed since logging in, or the users file cannot be read (named)
            self.user = None
            self.root[:] = [
                pn.pane.Alert(
                    f"{html.escape(str(error))}. Nothing is shown to {html.escape(repr(name))}: "
                    "<a href='./logout'>log out</a> and log in as a registered user.",
                    alert_type="danger",
                )
            ]
            return
        self._show_main()

    @property
    def header(self) -> pn.pane.HTML:
        """Who is logged in, and the way out (for the template's header)."""
        who = f"{self.user.name} ({', '.join(self.user.roles)})" if self.user else "not logged in"
        return pn.pane.HTML(
            f"<span style='color:white'>{html.escape(who)} · "
            "<a href='./logout' style='color:white;font-weight:bold'>Log out</a></span>",
            align="center",
        )

    # --- main view -----------------------------------------------------------------------------------------

    def _show_main(self) -> None:
        assert self.user is not None
        self.inventory_table = inventory(self.client)
        table_ = self.inventory_table
        self.models = sorted(table_["model"].unique()) if len(table_) else []
        self.model_select = pn.widgets.Select(name="Model", options=self.models, width=220)
        self.version_select = pn.widgets.Select(name="Version", options=[], width=120)
        self.model_select.param.watch(self._model_changed, "value")
        open_button = pn.widgets.Button(name="Open version", button_type="primary", width=140, align="end")
        open_button.on_click(self._open_version)
        self.version_page = pn.Column(sizing_mode="stretch_width")
        self.monitoring_page = pn.Column(sizing_mode="stretch_width")
        self.audit_page = pn.Column(sizing_mode="stretch_width")
        version_tab = pn.Column(
            pn.Row(self.model_select, self.version_select, open_button),
            self.message,
            self.version_page,
            sizing_mode="stretch_width",
        )
        monitoring_tab = pn.Column(
            pn.pane.Markdown("The newest `workbench monitor` run of the model chosen on the Version tab."),
            self.monitoring_page,
            sizing_mode="stretch_width",
        )
        self.tabs = pn.Tabs(
            ("Inventory", self._inventory_tab()),
            ("Version", version_tab),
            ("Monitoring", monitoring_tab),
            ("Audit log", self.audit_page),
            dynamic=False,
            sizing_mode="stretch_width",
        )
        self.root[:] = [self.tabs]
        self._show_audit_log()
        if self.models:
            self._model_changed()
        self._follow_link()

    def _inventory_tab(self) -> pn.Column:
        table_ = self.inventory_table
        overdue = int(table_["overdue"].sum()) if len(table_) else 0
        findings = [
            f"{h} H · {m} M · {low} L"
            for h, m, low in zip(table_["open_high"], table_["open_medium"], table_["open_low"], strict=True)
        ]
        due = [
            f"{date or '-'} overdue" if late else (date or "-")
            for date, late in zip(table_["next_review_due"], table_["overdue"], strict=True)
        ]
        shown = (
            table_.assign(findings=findings, next_review_due=due)
            # the kind is in the CLI's inventory; here it does not fit beside next review and artefact yet
            .drop(columns=["open_high", "open_medium", "open_low", "overdue", "kind"])
            .rename(columns=_INVENTORY_TITLES)
        )
        order = ["model", "version", "status", "alias", "tier", "owner", "developer", "validator", "approver"]
        order += ["validated", "findings", "next review"]
        shown = shown[order + [c for c in shown.columns if c not in order]]
        grid = table(
            shown,
            height=360,
            coloured=("status", "artefact"),
            layout="fit_data_stretch",
            name="inventory",
        )
        # open high findings stand out, medium ones less
        grid.style.map(
            lambda v: (
                tone_style("high") if not v.startswith("0 H") else tone_style("medium") if " 0 M" not in v else ""
            ),
            subset=["findings"],
        )
        grid.style.map(lambda v: tone_style("fail") if v.endswith("overdue") else "", subset=["next review"])
        # a row opens its version
        grid.on_click(lambda event: self._open_row(event.row))
        return pn.Column(
            pn.pane.Markdown(
                f"### Model inventory\n{len(table_)} version(s); **{overdue} overdue for review**; "
                "a row opens its version"
            ),
            grid,
            sizing_mode="stretch_width",
        )

    def _show_audit_log(self) -> None:
        log = audit_log(self.audit)
        self.audit_page[:] = [
            pn.pane.Markdown(
                f"### Audit log\n{len(log)} record(s), newest first; override justifications and conditions as "
                "recorded. `workbench audit verify` proves nobody rewrote them."
            ),
            table(
                log,
                page_size=25,
                wrap=("reason and details", "target", "change"),
                widths={
                    "seq": 60,
                    "time": 130,
                    "who": 150,
                    "action": 150,
                    "target": 130,
                    "change": 190,
                    "outcome": 100,
                },
                name="audit-log",
            ),
        ]

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
        self._show_monitoring()

    def _open_row(self, row: int | None) -> None:
        table_ = self.inventory_table
        if row is None or not 0 <= row < len(table_):
            return
        self.tabs.active = 1
        self.open(str(table_.iloc[row]["model"]), int(table_.iloc[row]["version"]))

    def open(self, name: str, version: int) -> None:
        """Show a version's page (also used by the inventory's links)."""
        self.model_select.value = name
        self.version_select.value = version
        self._open_version()

    def _facts(self, view) -> pn.pane.HTML:
        tags = view.tags
        e = html.escape
        aliases = " ".join("@" + e(a) for a in view.aliases)
        outcome = tags.get("validation_outcome", "not validated")
        counts = {k: int(tags.get(f"open_findings_{k}", 0) or 0) for k in ("high", "medium", "low")}
        findings = ", ".join(
            f"<b style='{tone_style(k)}; padding: 0 6px'>{n} {k}</b>" if n else f"0 {k}" for k, n in counts.items()
        )
        return pn.pane.HTML(
            f"<h3 style='margin-bottom:4px'>{e(view.name)} version {view.version}</h3>"
            f"<p><b>Status:</b> {_badge(view.status, 'status')} {aliases} · risk tier {e(tags.get('risk_tier', '?'))}"
            f" · owner {e(tags.get('owner', '?'))}</p>"
            f"<p>developed by <b>{e(tags.get('developed_by', '-'))}</b> · validated by "
            f"<b>{e(tags.get('validated_by', '-'))}</b> {_badge(outcome)} · approved by "
            f"<b>{e(tags.get('approved_by', '-'))}</b></p>"
            f"<p>open findings: {findings} · model sha256 <code>{e(tags.get('model_sha256', '')[:16])}…</code></p>",
            name="facts",
            sizing_mode="stretch_width",
        )

    def _open_version(self, _event=None) -> None:
        name, version = self.model_select.value, self.version_select.value
        if name is None or version is None:
            return
        view = version_view(self.client, self.audit, name, int(version))
        self._link_to(name, int(version))
        sections: list = [self._facts(view), pn.pane.Markdown("#### Validation summary")]
        sections.append(
            table(view.validation_summary, height=300, wrap=("reason",), widths={"test": 280, "outcome": 100})
            if len(view.validation_summary)
            else pn.pane.Markdown("*No validation evidence recorded.*")
        )
        sections.append(pn.pane.Markdown("#### Open findings"))
        sections.append(
            table(
                view.findings,
                height=260,
                wrap=("title", "detail", "remediation"),
                widths={"severity": 100, "status": 80},
            )
            if len(view.findings)
            else pn.pane.Markdown("*No findings.*")
        )
        for label, path in view.documents.items():
            document = Path(path).read_text("utf-8")
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
        sections.append(
            table(
                view.history.assign(
                    who=view.history["actor"] + " (" + view.history["role"] + ")",
                    reason=[
                        f"{reason}\nrefused: {refusal}" if refusal else reason
                        for reason, refusal in zip(view.history["reason"], view.history["refusal"], strict=True)
                    ],
                )[["seq", "time", "who", "action", "change", "outcome", "reason"]],
                height=240,
                wrap=("reason", "change"),
                widths={"seq": 60, "time": 150, "who": 150, "action": 150, "change": 200, "outcome": 100},
            )
        )
        # the decision comes last, after the evidence it rests on
        sections.append(pn.pane.Markdown("### Actions"))
        sections.append(self._actions(view))
        self.version_page[:] = sections

    # --- monitoring ----------------------------------------------------------------------------------------

    def _show_monitoring(self) -> None:
        name = self.model_select.value
        view = monitoring_view(self.client, name) if name else None
        if view is None:
            self.monitoring_page[:] = [
                pn.pane.Markdown(f"*{name or 'This model'} has not been monitored yet (`workbench monitor {name}`).*")
            ]
            return
        status = self.client.get_model_version(name, str(view.version)).tags.get("status", "-")
        review = [
            r
            for r in self.audit.history(name, view.version)
            if r["action"] == "mark_under_review" and r["outcome"] == "accepted"
        ]
        review_line = (
            f"put under review by <b>{html.escape(review[-1]['actor'])}</b> on {review[-1]['time'][:10]}: "
            f"{html.escape(review[-1]['reason'][:300])}"
            if review
            else "no monitoring alert has put it under review"
        )
        alerts = len(view.alerts)
        sections: list = [
            pn.pane.HTML(
                f"<h3 style='margin-bottom:4px'>{html.escape(name)} version {view.version}: monitoring</h3>"
                f"<p>latest run <code>{view.run_id}</code> on {view.started} by {html.escape(view.by)} · "
                f"{view.decisions:,} decisions, {view.labelled:,} with outcomes · periods: {view.period_source} · "
                f"{_badge(f'{alerts} alert(s)' if alerts else 'no alerts')}</p>"
                f"<p><b>Review status:</b> {_badge(status, 'monitoring-status')} · {review_line}</p>",
                name="monitoring-facts",
                sizing_mode="stretch_width",
            )
        ]
        if view.report_pdf is not None:
            sections.append(
                pn.widgets.FileDownload(
                    file=io.BytesIO(view.report_pdf),
                    filename=view.report_name,
                    label="Download the monitoring report (PDF)",
                    button_type="light",
                )
            )
        sections.append(pn.pane.Markdown("#### Alerts"))
        sections.append(
            table(
                view.alerts.assign(kind=view.alerts["kind"].str.replace("_", " ")).round({"value": 3, "limit": 3}),
                height=260,
                page_size=15,
                wrap=("message", "subject"),
                widths={"period": 110, "kind": 120, "value": 80, "limit": 80},
                name="alerts",
            )
            if alerts
            else pn.pane.Markdown("*No alert in any period.*")
        )
        sections.append(pn.pane.Markdown("#### Trends"))
        sections += [pn.pane.PNG(io.BytesIO(png), sizing_mode="scale_width", max_width=1000) for png in view.trends]
        if not view.trends:
            sections.append(pn.pane.Markdown("*The run's report carries no trend chart.*"))
        if len(view.periods):
            sections.append(pn.pane.Markdown("#### By period"))
            periods = view.periods.round(4)
            sections.append(table(periods, height=300))
        self.monitoring_page[:] = sections

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
        self._show_audit_log()


def create_dashboard() -> pn.viewable.Viewable:
    """A new dashboard for one browser session, in Panel's Bootstrap template (served locally)."""
    pn.extension("tabulator", notifications=False)
    dashboard = Dashboard()
    return pn.template.BootstrapTemplate(
        title="MRM Workbench",
        header=[dashboard.header],
        main=[dashboard.root],
        header_background=ACCENT,
        collapsed_sidebar=True,
    )


def serve(port: int = 5006, address: str = "127.0.0.1", show: bool = False):
    """Serve the dashboard with Panel's own server (blocking); its login page at ``/login``.

    The session cookie is signed with the configured secret and lasts ``WORKBENCH_APP_SESSION_HOURS``.
    """
    pn.extension("tabulator")
    pn.config.oauth_expiry = session_hours() / 24  # Panel's cookie lifetime, in days
    return pn.serve(
        {"app": create_dashboard},
        port=port,
        address=address,
        show=show,
        title="MRM Workbench",
        websocket_origin=[f"{address}:{port}", f"localhost:{port}"],
        threaded=False,
        cookie_secret=cookie_secret(),
        auth_provider=WorkbenchAuthProvider(),
    )
