"""The approval app in a real headless Chromium: the approver approves, the developer is offered nothing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import copy_project, registry_client, wait_until

CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not shutil.which("chromium"),
        reason="headless Chromium not found: install Debian's chromium package "
        "(apt-get install chromium) or set WORKBENCH_CHROMIUM to enable the browser test",
    ),
]
PASSWORD = "demo-password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def validated_template(tmp_path_factory):
    """A registry holding one version, developed by priya and validated by marco; returns (project, version).

    Never served itself: the app runs on copies (``copy_project``).
    """
    from _pytest.monkeypatch import MonkeyPatch

    from workbench.data import load_model_data
    from workbench.governance import DEMO_USERS, GovernanceService, MlflowVersionStore, UserStore
    from workbench.governance._audit import AuditTrail
    from workbench.registry import register_training, start_pipeline_run
    from workbench.spec import load_spec
    from workbench.training import train

    project = tmp_path_factory.mktemp("app-template")
    (project / "registry_store").mkdir()
    (project / "reports").mkdir()
    patch = MonkeyPatch()
    patch.setenv("WORKBENCH_HOME", str(project))
    patch.delenv("MLFLOW_TRACKING_URI", raising=False)
    users = UserStore(project / "registry_store" / "governance" / "users.json")
    for name, roles in DEMO_USERS.items():
        users.add(name, roles, PASSWORD)
    spec = load_spec(Path(__file__).resolve().parent.parent / "notebooks" / "params" / "german_credit.yaml")
    result = train(load_model_data(spec), spec)
    with registry_client(project) as client:
        run_id = start_pipeline_run(spec, developer="priya", client=client)
        version = register_training(result, run_id, developer="priya", client=client)
        service = GovernanceService(
            MlflowVersionStore(client), AuditTrail(project / "registry_store" / "governance" / "audit.jsonl")
        )
        service.register(users.get("priya"), spec.name, version)
        service.record_validation(
            users.get("marco"),
            spec.name,
            version,
            "validated",
            "validation suite passed",
            {"high": 0, "medium": 1, "low": 4},
        )
    patch.undo()
    return project, version


def _app_answers(url: str, server: subprocess.Popen) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError:
        if server.poll() is not None:
            pytest.fail(f"the app exited: {server.stdout.read() if server.stdout else ''}")
        return False


@contextmanager
def _approval_app(project: Path):
    """`workbench app` on ``project``, once it answers; yields its URL."""
    port = _free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in {"MLFLOW_TRACKING_URI", "WORKBENCH_USERS", "WORKBENCH_AUDIT"}
    }
    env["WORKBENCH_HOME"] = str(project)
    server = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "app", "--port", str(port)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/app"
    try:
        wait_until(lambda: _app_answers(url, server), timeout=60, interval=0.5, what="the approval app to answer")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture(scope="module")
def app_url(validated_template, tmp_path_factory):
    """The app on the module's copy of the validated project, for tests that change nothing in it."""
    with _approval_app(copy_project(validated_template[0], tmp_path_factory.mktemp("app"))) as url:
        yield url


@pytest.fixture
def own_app(validated_template, tmp_path):
    """The app on a copy of the validated project for one test (one that acts on the version); (project, URL)."""
    project = copy_project(validated_template[0], tmp_path / "app")
    with _approval_app(project) as url:
        yield project, url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def _open_version(browser, url: str, user: str):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    page.get_by_placeholder("user name").fill(user)
    page.get_by_placeholder("password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("text=Model inventory", timeout=60_000)
    page.locator(".bk-tab", has_text="Version").click()
    page.get_by_role("button", name="Open version").click()
    page.wait_for_selector("text=Audit history", timeout=60_000)
    return page, requests


def test_wrong_password_is_refused(browser, app_url):
    page = browser.new_page()
    page.goto(app_url)
    page.get_by_placeholder("user name").fill("helen")
    page.get_by_placeholder("password").fill("not-her-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("text=authentication failed", timeout=30_000)
    assert page.get_by_text("Model inventory").count() == 0


def test_approver_approves_and_sees_status_and_audit_entry(browser, own_app, validated_template):
    from mlflow import MlflowClient
    from playwright.sync_api import expect

    (project, url), version = own_app, validated_template[1]
    page, requests = _open_version(browser, url, "helen")
    assert page.locator("#status").inner_text() == "validated"
    page.get_by_label("Comment (mandatory)").fill("fit for purpose; monitor the age gap monthly")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_selector("text=approve recorded: validated → approved", timeout=60_000)
    # the version page re-renders after the action: wait for the refreshed status rather than racing it
    expect(page.locator("#status")).to_have_text("approved", timeout=30_000)
    # the new audit entry, in the version's audit history table
    page.wait_for_selector("text=fit for purpose; monitor the age gap monthly", timeout=30_000)
    assert page.get_by_text("helen", exact=True).count() >= 1
    registry = f"sqlite:///{project / 'registry_store' / 'mlflow.db'}"
    tags = (
        MlflowClient(tracking_uri=registry, registry_uri=registry).get_model_version("german_credit", str(version)).tags
    )
    assert tags["status"] == "approved" and tags["approved_by"] == "helen"
    outside = [
        u
        for u in requests
        if urlparse(u).scheme not in ("data", "blob", "about") and urlparse(u).hostname != "127.0.0.1"
    ]
    assert requests and outside == []  # the app downloads nothing from the internet


def test_developer_is_offered_no_approve_action(browser, app_url):
    page, _ = _open_version(browser, app_url, "priya")
    assert page.locator("#status").inner_text() == "validated"  # a version an approver could approve
    assert page.get_by_role("button", name="Approve").count() == 0
    assert page.get_by_text("No action is open to priya").count() == 1


def _log_in(page, url: str, user: str) -> None:
    page.goto(url)
    page.get_by_placeholder("user name").fill(user)
    page.get_by_placeholder("password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_link_opens_its_version_after_login_and_the_address_names_the_open_version(
    browser, app_url, validated_template
):
    version = validated_template[1]
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    _log_in(page, f"{app_url}?model=german_credit&version={version}", "marco")
    page.wait_for_selector("text=Audit history", timeout=60_000)  # no click on "Open version"
    assert page.locator("#status").inner_text() == "validated"
    # evidence first, the actions last
    evidence, actions = page.get_by_text("Validation summary"), page.get_by_text("Actions", exact=True)
    assert evidence.bounding_box()["y"] < actions.bounding_box()["y"]
    page.wait_for_function("() => window.location.search.includes('model=german_credit')", timeout=30_000)
    assert f"version={version}" in page.url


def test_an_approver_is_told_an_override_is_needed_and_must_confirm_it(browser, own_app, validated_template):
    import re

    from playwright.sync_api import expect

    from workbench.governance import GovernanceService, MlflowVersionStore, UserStore
    from workbench.governance._audit import AuditTrail

    (project, url), version = own_app, validated_template[1]
    governance = project / "registry_store" / "governance"
    with registry_client(project) as client:
        service = GovernanceService(MlflowVersionStore(client), AuditTrail(governance / "audit.jsonl"))
        marco = UserStore(governance / "users.json").get("marco")
        service.add_finding(marco, "german_credit", version, "high", "age-band gap", "remediate before use")
    page, _ = _open_version(browser, url, "helen")
    expect(page.locator("#status")).to_have_text("under_review", timeout=30_000)
    page.wait_for_selector("text=needs an override justification", timeout=30_000)
    page.get_by_label("Comment (mandatory)").fill("accepted for a limited period")
    page.get_by_label(re.compile("^Override justification")).fill("age-band gap accepted pending plan R-17")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_selector("text=the confirmation box ticked", timeout=30_000)
    with registry_client(project) as client:
        assert client.get_model_version("german_credit", str(version)).tags["status"] == "under_review"
    page.get_by_role("checkbox").check()  # the one confirmation box on the page
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#status")).to_have_text("approved", timeout=60_000)
    with registry_client(project) as client:
        tags = client.get_model_version("german_credit", str(version)).tags
    assert tags["approval_override"] == "age-band gap accepted pending plan R-17"
    # the override is shown as a high finding of its own, with its justification
    override = page.locator(
        ".tabulator-cell[tabulator-field='title']", has_text="Approved without completed validation"
    )
    expect(override).to_be_visible(timeout=30_000)
    assert page.get_by_text("helen: age-band gap accepted pending plan R-17").count() == 1


def test_documents_can_be_downloaded_as_pdf(browser, own_app, validated_template):
    from workbench.reports import write_pdf

    (project, url), version = own_app, validated_template[1]
    folder = project / "reports" / "german_credit" / f"v{version}"
    folder.mkdir(parents=True, exist_ok=True)
    html = "<html><body><h1>SR 11-7 model document</h1><p>The document as printed.</p></body></html>"
    (folder / f"german_credit_v{version}_sr117_model_document.html").write_text(html)
    pdf = write_pdf(html, folder / f"german_credit_v{version}_sr117_model_document.pdf")
    page, _ = _open_version(browser, url, "marco")
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download SR 11-7 model document (PDF)").click()
    assert download.value.suggested_filename == pdf.name
    assert open(download.value.path(), "rb").read() == pdf.read_bytes()


def _assert_columns_fit(grid) -> None:
    """Every column of a table lies within the table's width: nothing pushed off-screen."""
    columns = grid.locator(".tabulator-header .tabulator-col:visible")
    columns.first.wait_for(timeout=30_000)
    frame = grid.bounding_box()
    assert columns.count() >= 5
    for column in columns.all():
        box = column.bounding_box()
        assert box["x"] + box["width"] <= frame["x"] + frame["width"] + 1, column.get_attribute("tabulator-field")


def test_an_inventory_row_opens_its_version(browser, app_url, validated_template):
    version = validated_template[1]
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    _log_in(page, app_url, "marco")
    page.wait_for_selector("text=Model inventory", timeout=60_000)
    inventory = page.locator(".tabulator", has=page.locator(".tabulator-col[tabulator-field='next review']"))
    _assert_columns_fit(inventory)  # next review and findings on screen, not cut off
    page.locator(".bk-tab", has_text="Audit log").click()
    page.wait_for_selector("text=newest first", timeout=30_000)
    log = page.locator(".tabulator", has=page.locator(".tabulator-col[tabulator-field='reason and details']"))
    _assert_columns_fit(log)
    accepted = log.locator(".tabulator-cell[tabulator-field='outcome']", has_text="accepted").first
    assert accepted.evaluate("cell => getComputedStyle(cell).backgroundColor") == "rgb(227, 244, 232)"  # green
    page.locator(".bk-tab", has_text="Inventory").click()
    page.locator(".tabulator-row .tabulator-cell[tabulator-field='model']").first.click()
    page.wait_for_selector("text=Audit history", timeout=60_000)
    assert page.get_by_text(f"german_credit version {version}").count() >= 1


def test_enter_logs_in_and_the_login_survives_a_reload_until_logout(browser, app_url, validated_template):
    version = validated_template[1]
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    page.goto(f"{app_url}?model=german_credit&version={version}")
    page.get_by_placeholder("user name").fill("helen")
    page.get_by_placeholder("password").fill(PASSWORD)
    page.get_by_placeholder("password").press("Enter", timeout=60_000)  # no click: Enter submits
    page.wait_for_selector("text=Audit history", timeout=60_000)
    session = next(c for c in context.cookies() if c["name"] == "user")
    assert session["httpOnly"] and session["expires"] > 0  # signed by Tornado, HttpOnly, expiring
    page.reload()
    page.wait_for_selector("text=Audit history", timeout=60_000)  # the same version, no login form
    assert page.get_by_placeholder("password").count() == 0
    assert page.locator("#status").inner_text() == "validated"
    page.get_by_role("link", name="Log out").click()
    page.wait_for_selector("text=Logged out", timeout=30_000)
    page.goto(app_url)
    page.wait_for_selector("input[placeholder='password']", timeout=30_000)
    context.close()


@pytest.fixture(scope="module")
def monitored_template(validated_template, tmp_path_factory):
    """A copy of the validated project after a monitoring run on 6 simulated periods (drift from period 3)
    that put the version under review, as `workbench monitor --simulated --user marco` does; (project, version)."""
    import numpy as np
    import pandas as pd
    from _pytest.monkeypatch import MonkeyPatch

    from workbench.governance import GovernanceService, MlflowVersionStore, UserStore
    from workbench.governance._audit import AuditTrail
    from workbench.monitoring import Monitor, act_on_alerts, record_monitoring_run, reference_for, write_report
    from workbench.monitoring._drifting_population import Drift, ProductionSimulator
    from workbench.registry import load_artefact

    template, version = validated_template
    project = copy_project(template, tmp_path_factory.mktemp("app-monitored"))
    patch = MonkeyPatch()
    patch.setenv("WORKBENCH_HOME", str(project))
    patch.delenv("MLFLOW_TRACKING_URI", raising=False)
    governance = project / "registry_store" / "governance"
    with registry_client(project) as client:
        reference = reference_for(client, "german_credit", version)
        model, _ = load_artefact(client, "german_credit", version)
        spec = reference.spec
        drift = Drift(start_period=3, ramp_periods=1, amount_factor=2.0, purpose_weights={"car (new)": 4.0})
        simulator = ProductionSimulator(spec, drift, seed=1)
        frames, outcomes = [], []
        for index in range(6):
            period = simulator.period(index, 300)
            frame = pd.DataFrame(period.applications)
            scores = model.predict_proba(frame.astype({c: float for c in spec.features.numeric}))[:, 1]
            ids = [f"{index:03d}-{i:06d}" for i in range(len(frame))]
            frame.insert(0, "id", ids)
            frame["time"] = pd.Timestamp("2026-01-05", tz="UTC") + pd.Timedelta(weeks=index)
            frame["version"], frame["route"], frame["score"] = version, "champion", scores
            frame["decision"] = np.where(scores >= spec.decision.cutoff, "decline", "approve")
            frame["top_reason"] = "checking_status"
            frames.append(frame)
            outcomes.append(pd.DataFrame({"decision_id": ids, "outcome": period.outcomes}).join(period.groups))
        decisions = project / "decisions"
        decisions.mkdir()
        frame = pd.concat(frames, ignore_index=True)
        frame.to_parquet(decisions / "part-0.parquet", index=False)
        period_of = pd.Series(frame["id"].str[:3].to_numpy(), index=frame["id"])
        result = Monitor(reference).run(decisions, pd.concat(outcomes, ignore_index=True), period_of=period_of)
        assert result.alerts  # the drift and the model's real age-band gap both alarm
        paths = write_report(result, pdf=True)
        record_monitoring_run(client, result, paths, period_source="simulated", user="marco")
        marco = UserStore(governance / "users.json").get("marco")
        service = GovernanceService(MlflowVersionStore(client), AuditTrail(governance / "audit.jsonl"))
        act_on_alerts(result, service, marco)
    patch.undo()
    return project, version, result


def test_the_monitoring_tab_shows_the_latest_runs_alerts_trends_and_review_status(
    browser, monitored_template, tmp_path
):
    from playwright.sync_api import expect

    template, version, result = monitored_template
    with _approval_app(copy_project(template, tmp_path / "app")) as url:
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        _log_in(page, url, "helen")
        page.wait_for_selector("text=Model inventory", timeout=60_000)
        page.locator(".bk-tab", has_text="Monitoring").click()
        facts = page.locator("text=german_credit version 1: monitoring")
        expect(facts).to_be_visible(timeout=60_000)
        assert page.locator("#monitoring-status").inner_text() == "under_review"
        assert page.get_by_text(f"{len(result.alerts)} alert(s)").count() == 1
        assert page.get_by_text("put under review by marco").count() == 1
        # each kind of alert in the table (the seeded run's first page holds all of them), fairness included
        kinds = {a.kind.replace("_", " ") for a in result.alerts}
        for kind in kinds:
            expect(page.locator(".tabulator-cell[tabulator-field='kind']", has_text=kind).first).to_be_visible()
        assert "fairness" in kinds
        # the trend charts the report carries, drawn as images that have loaded
        trends = page.locator("img[src^='data:image/png']")
        expect(trends.first).to_be_visible(timeout=30_000)
        assert trends.first.evaluate("img => img.naturalWidth") > 400
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name="Download the monitoring report (PDF)").click()
        assert open(download.value.path(), "rb").read(5) == b"%PDF-"
