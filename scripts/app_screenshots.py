"""Screenshots of the approval app for README, taken in a real headless Chromium on a real project.

    python scripts/app_screenshots.py --project PATH [--out docs/screenshots] [--user helen]

The project is one the workbench has worked on (after ``make demo`` and the monitoring commands of README,
for example): the script starts ``workbench app`` on it, logs in as ``--user`` (password from
WORKBENCH_PASSWORD, else the demonstration password), and saves the login page, the inventory, a version's
evidence, its documents, the monitoring tab and the audit log as small PNGs (256 colours). It drives Debian's
``chromium`` through Playwright, as the browser tests do, waits on what each page shows rather than on time,
and changes nothing in the project beyond what the app itself writes (its cookie secret in ``secrets/``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_app(project: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ, WORKBENCH_HOME=str(project), PYTHONPATH=str(ROOT))
    env.pop("MLFLOW_TRACKING_URI", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "app", "--port", str(port)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the login page answers (or the app has exited)
        if server.poll() is not None:
            raise SystemExit(f"the app exited: {server.stdout.read() if server.stdout else ''}")
        try:
            if urllib.request.urlopen(f"{url}/login", timeout=2).status == 200:
                return server, url
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the app did not answer within 120 s")


def _save(page, path: Path, clip_to=None) -> None:
    """A viewport screenshot, reduced to 256 colours (a few dozen kB instead of hundreds)."""
    raw = path.with_suffix(".raw.png")
    if clip_to is not None:
        clip_to.screenshot(path=str(raw))
    else:
        page.screenshot(path=str(raw))
    with Image.open(raw) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    raw.unlink()
    print(f"{path} ({path.stat().st_size // 1024} kB)")


def main() -> None:
    """Start the app on the project, log in, and save one screenshot per view."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path(os.environ.get("WORKBENCH_HOME", ".")))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--user", default="helen")
    parser.add_argument("--model", default="german_credit")
    parser.add_argument("--version", type=int, default=1)
    parser.add_argument("--chromium", default=os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    password = os.environ.get("WORKBENCH_PASSWORD", "demo-password")
    chromium = args.chromium if Path(args.chromium).exists() else shutil.which("chromium")
    server, url = _start_app(args.project.resolve())
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(120_000)  # a loaded machine: wait longer, never a fixed time
            page.goto(f"{url}/app?model={args.model}&version={args.version}")
            page.wait_for_selector("input[placeholder='password']")
            page.get_by_placeholder("user name").fill(args.user)
            page.get_by_placeholder("password").fill(password)
            _save(page, args.out / "login.png")
            page.get_by_placeholder("password").press("Enter")
            page.wait_for_selector("text=Audit history", timeout=120_000)
            page.wait_for_selector("#status")
            _save(page, args.out / "version.png")
            page.get_by_text("Open findings", exact=True).evaluate("e => e.scrollIntoView({block: 'start'})")
            _save(page, args.out / "findings_and_document.png")
            page.evaluate("window.scrollTo(0, 0)")
            page.locator(".bk-tab", has_text="Inventory").click()
            page.wait_for_selector(".tabulator-row .tabulator-cell[tabulator-field='model']")
            _save(page, args.out / "inventory.png")
            page.locator(".bk-tab", has_text="Monitoring").click()
            shown = page.locator("#monitoring-status").or_(page.get_by_text("has not been monitored yet"))
            shown.wait_for()
            trends = page.locator("img[src^='data:image/png']")
            if trends.count():
                trends.first.evaluate("img => img.decode()")
            _save(page, args.out / "monitoring.png")
            if trends.count():
                trends.first.evaluate("e => e.scrollIntoView({block: 'start'})")
                _save(page, args.out / "monitoring_trends.png")
            page.evaluate("window.scrollTo(0, 0)")
            page.locator(".bk-tab", has_text="Audit log").click()
            page.wait_for_selector("text=newest first")
            _save(page, args.out / "audit_log.png")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
