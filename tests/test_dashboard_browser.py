"""The dashboard end to end, in headless Chromium driven by Playwright.

Starts ``peersupport dashboard`` on a free localhost port in a subprocess, loads the page
in Debian's Chromium (/usr/bin/chromium; never a downloaded browser), presses its buttons
and moves its controls as a teacher would, and reads the numbers the page shows. Saves
screenshots to test-artifacts/. Skipped, with the reason, when Chromium or the page's
JavaScript (Solara's assets, installed from the npm registry with npm when missing) is
not available.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ports import free_port

from .conftest import ROOT, warm_kernels

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts"
VIEWPORT = {"width": 1920, "height": 1080}  # a classroom projector
START_TIMEOUT_S = 90


@pytest.fixture(scope="module")
def playwright() -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium "
                    "(apt-get install chromium; .ci/run does it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    from sim.viz import assets

    # pip installed the page's files (the dashboard extra pins solara-assets): no npm, no CDN
    assert assets.missing_packages() == [], "the dashboard extra's assets are not installed"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright) -> Iterator:
    warm_kernels()  # for every dashboard the tests start
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


class Server:
    """``peersupport dashboard ARGS`` on a free port, in its own process group."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = ARTIFACTS / f"dashboard-server-{self.port}.log"
        ARTIFACTS.mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sim.cli.main", "dashboard", *args, "--port", str(self.port)],
            cwd=ROOT, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True, env={**os.environ, **(env or {})})
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dashboard exited: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"dashboard did not serve within {START_TIMEOUT_S} s")

    def stop(self) -> None:
        """Stop the server; keep its log only if it wrote more than its start line."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.log.exists() and len(self.log.read_text().splitlines()) <= 1:
            self.log.unlink()


@pytest.fixture(scope="module")
def server(browser) -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.stop()


class Page:
    """One browser tab on the dashboard, with the console watched for errors."""

    def __init__(self, browser, url: str) -> None:
        self.page = browser.new_page(viewport=VIEWPORT)
        self.errors: list[str] = []
        self.page.on("console",
                     lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        self.page.wait_for_selector("#ps-main", timeout=60_000)

    def day(self) -> int:
        return int(self.page.get_attribute("#ps-main", "data-day"))

    def value(self, arm: str, key: str) -> str:
        return self.page.locator(
            f'td.ps-value[data-arm="{arm}"][data-key="{key}"]').inner_text()

    def text(self, key: str) -> str:
        return self.page.locator(f'#ps-main [data-key="{key}"]').first.inner_text()

    def points(self, chart: str) -> int:
        """Number of plotted days of arm A's line in a chart."""
        pts = self.page.locator(f'svg.ps-chart[data-key="{chart}"] polyline').first
        return len(pts.get_attribute("points").split())

    def button(self, name: str) -> None:
        self.page.get_by_role("button", name=name, exact=True).click()

    def step(self) -> float:
        """Press Step, wait for the page to show the new day; returns the seconds taken."""
        before = self.day()
        t0 = time.perf_counter()
        self.button("Step")
        self.page.wait_for_function(
            f"document.querySelector('#ps-main').dataset.day != '{before}'", timeout=15_000)
        return time.perf_counter() - t0

    def reset(self) -> None:
        """Press Reset, wait for the page to show the new model."""
        before = self.page.get_attribute("#ps-main", "data-model")
        self.button("Reset")
        self.page.wait_for_function(
            f"document.querySelector('#ps-main').dataset.model != '{before}'", timeout=15_000)
        assert self.day() == 0

    def slider(self, label: str):
        return self.page.locator(".v-slider", has_text=label).locator("[role=slider]")

    def select(self, label: str, option: str) -> None:
        self.page.locator(".v-select", has_text=label).click()
        # the menu's items: role "option" in newer Vuetify apps, plain list items in older
        self.page.locator(".v-overlay-container .v-list-item", has_text=option).click()

    def screenshot(self, name: str) -> Path:
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path))
        return path

    def no_errors(self) -> None:
        assert self.page.locator(".v-alert").count() == 0, \
            f"error shown: {self.page.locator('.v-alert').all_inner_texts()}"
        assert not self.errors, f"browser console errors: {self.errors}"

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def page(browser, server) -> Iterator[Page]:
    p = Page(browser, server.url)
    yield p
    p.close()


def test_page_loads_with_two_arms_and_step_moves_the_plots(page):
    assert page.day() == 0
    assert page.page.locator(".ps-arm").count() == 2, "side by side: two arms"
    assert page.page.locator("svg.ps-network").count() == 2
    assert "A: IM only" in page.page.locator('.ps-arm[data-arm="A"] h2').inner_text()
    assert "B: in-person kick-off" in page.page.locator('.ps-arm[data-arm="B"] h2').inner_text()
    engagement_0 = page.value("A", "engagement_mean")
    tie_b_0 = page.value("B", "tie_strength_mean")
    assert page.points("adherent_share") == 1
    page.step()
    assert page.day() == 7, "Step advances a week"
    assert page.points("adherent_share") == 8, "a point per day plotted"
    assert page.value("A", "engagement_mean") != engagement_0
    assert float(page.value("B", "tie_strength_mean")) > float(tie_b_0), \
        "the kick-off sessions build rapport in arm B"
    page.step()
    page.screenshot("dashboard-default.png")
    page.no_errors()


def test_moving_a_slider_then_reset_changes_the_run(page):
    page.step()
    posted_default = float(page.value("A", "posters_share").rstrip("%"))
    page.slider("Chat posts per member a week").focus()
    page.page.keyboard.press("End")  # the slider's maximum: 5 posts a week
    page.reset()
    assert "IM posts 5.0/member/week" in page.text("levers")
    page.step()
    posted_busy = float(page.value("A", "posters_share").rstrip("%"))
    assert posted_busy > posted_default, \
        f"7x the posting should make more members post: {posted_busy} <= {posted_default}"
    page.screenshot("dashboard-after-slider.png")
    page.no_errors()


def test_seed_field_and_single_arm(page):
    adherent_seed1 = page.value("A", "adherent_share")
    seed = page.page.locator(".v-text-field", has_text="Seed").locator("input")
    seed.fill("7")
    seed.press("Enter")
    page.select("Side by side", "One arm only")
    page.reset()
    assert page.text("seed") == "7"
    assert page.page.locator(".ps-arm").count() == 1
    assert page.value("A", "adherent_share") != adherent_seed1, "another seed: other patients"
    page.no_errors()


def test_play_and_pause(page):
    page.button("▶")
    page.page.wait_for_function("Number(document.querySelector('#ps-main').dataset.day) >= 21",
                                timeout=30_000)
    page.button("❚❚")
    page.page.wait_for_timeout(500)
    stopped = page.day()
    page.page.wait_for_timeout(1500)
    assert page.day() == stopped, "pause stops the run"
    page.no_errors()


def test_burst_of_control_changes(page):
    """A class at the controls: many fast changes, then Reset and Step, and no error."""
    for label in ("Patients in each arm", "Chat posts per member a week", "Peer influence",
                  "Friends needed to convince", "Random friendships", "Patients per group"):
        thumb = page.slider(label)
        thumb.focus()
        for key in ("ArrowRight",) * 6 + ("ArrowLeft",) * 3 + ("End", "Home", "ArrowRight"):
            page.page.keyboard.press(key)
    # the label, as a user clicks it (in older Vuetify apps it covers the input)
    box = page.page.locator(".v-checkbox", has_text="In-person kick-off").locator("label")
    for _ in range(5):
        box.click()
    page.select("Contagion", "complex")
    page.reset()
    page.step()
    assert page.day() == 7
    page.no_errors()


def test_step_plus_redraw_latency_in_the_browser(page):
    """Press Step ten times; time from the click to the new page (both 300-patient arms)."""
    times = [page.step() for _ in range(10)]
    median = sorted(times)[len(times) // 2]
    (ARTIFACTS / "dashboard-step-latency.json").write_text(json.dumps(
        {"patients_per_arm": 300, "arms": 2, "days_per_step": 7,
         "click_to_redraw_s": times, "median_s": median}, indent=2))
    print(f"\nbrowser: click Step -> page redrawn, median {median:.3f} s, max {max(times):.3f} s")
    # measured about 0.1-0.3 s here; 1 s is the responsiveness the issue asks for
    assert median < 1.0, f"median click-to-redraw {median:.2f} s"
    page.no_errors()


# A classroom without internet: the browser reaches only this computer (every other host
# name fails to resolve, everything else goes to a closed proxy port).
OFFLINE_ARGS = ["--proxy-server=127.0.0.1:9",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


@pytest.fixture(scope="module")
def offline_browser(playwright) -> Iterator:
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                          args=CHROMIUM_ARGS + OFFLINE_ARGS)
    yield chromium
    chromium.close()


def test_page_renders_with_the_network_disabled(offline_browser, server):
    """The installed assets are served by the dashboard itself: no request leaves the machine."""
    p = Page(offline_browser, server.url)
    try:
        outside: list[str] = []
        p.page.on("request", lambda r: outside.append(r.url)
                  if not r.url.startswith(server.url) else None)
        assert p.page.locator(".ps-arm").count() == 2
        p.step()
        assert p.day() == 7
        p.screenshot("dashboard-offline.png")
        assert not p.page.locator("#ps-assets-missing").is_visible()
        assert outside == [], f"requests left the machine: {outside}"
        p.no_errors()
    finally:
        p.close()


def test_missing_assets_offline_say_what_to_run(offline_browser, tmp_path):
    """Offline, with no assets installed, the page says what to run instead of staying blank."""
    srv = Server(env={"SOLARA_ASSETS_PROXY_CACHE_DIR": str(tmp_path / "cdn"),
                      "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/"})
    try:
        tab = offline_browser.new_page(viewport=VIEWPORT)
        tab.goto(srv.url)
        notice = tab.locator("#ps-assets-missing")
        notice.wait_for(state="visible", timeout=60_000)
        text = notice.inner_text()
        assert "cannot load its page files" in text
        assert "peersupport dashboard --fetch-assets" in text and str(tmp_path / "cdn") in text
        tab.screenshot(path=str(ARTIFACTS / "dashboard-offline-no-assets.png"))
        tab.close()
    finally:
        srv.stop()


LESSON_FILES = sorted((ROOT / "scenarios" / "classroom").glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSON_FILES, ids=lambda p: p.stem)
def test_lesson_pages(browser, lesson):
    srv = Server(str(lesson.relative_to(ROOT)))
    try:
        p = Page(browser, srv.url)
        assert "Lesson:" in p.page.locator(".ps-lesson").inner_text()
        for _ in range(12):
            p.step()
        p.screenshot(f"lesson-{lesson.stem}.png")
        p.no_errors()
        p.close()
    finally:
        srv.stop()
