"""The app in a real browser: ``leftshift app`` served on a free localhost port, opened in
headless Chromium, a small scenario run, its headline table read from the page.

Runs where Debian's ``chromium`` and ``chromium-driver`` are installed (CI's ``.ci/run``
installs them); skipped elsewhere. The server is a child process, stopped at the end
whatever happens. The screenshot is kept in ``outputs/`` for people to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
import test_report_browser as report_browser
from conftest import ROOT

pytestmark = report_browser.pytestmark  # a browser test, skipped without Chromium

SCREENSHOT = ROOT / "outputs" / "app_screenshot.png"
TINY = """extends = "baseline.toml"
name = "tiny"

[run]
horizon_years = 0.05
warm_up_days = 7
reps = 2
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, server: subprocess.Popen[bytes], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"leftshift app exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"leftshift app did not answer at {url} in {timeout_s} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configs = tmp_path_factory.mktemp("app") / "configs"
    shutil.copytree(ROOT / "configs", configs)
    (configs / "tiny.toml").write_text(TINY)
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "app", "--port", str(port), "--configs", str(configs)],
        cwd=ROOT,
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    driver = report_browser.chrome(window="1400,1000")
    try:
        yield driver
    finally:
        driver.quit()


def _wait_for(driver: object, find: object, what: str, timeout_s: float) -> object:
    from selenium.common.exceptions import WebDriverException

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = find()  # type: ignore[operator]
        except WebDriverException:
            found = None
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"the page showed no {what} in {timeout_s} s")


def test_the_app_runs_a_scenario_in_a_browser(server: str, browser: object) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/?scenario=tiny.toml")  # type: ignore[attr-defined]
    run = _wait_for(
        browser,
        lambda: [
            b
            for b in browser.find_elements(By.TAG_NAME, "button")  # type: ignore[attr-defined]
            if b.text.strip() == "Run"
        ],
        "Run button",
        90,
    )
    page = browser.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "Scenario explorer" in page
    assert "Main levers" in page
    assert "tiny" in page
    run[0].click()  # type: ignore[index]
    table = _wait_for(
        browser,
        lambda: [
            t
            for t in browser.find_elements(By.TAG_NAME, "table")  # type: ignore[attr-defined]
            if "A&E attendances" in t.text
        ],
        "headline table",
        180,
    )
    text = table[0].text  # type: ignore[index]
    assert "Delayed bed days (P1-P3)" in text
    assert "%" in text
    caption = browser.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "2 replications, seed 20160401" in caption
    _wait_for(
        browser,
        lambda: browser.find_elements(By.CSS_SELECTOR, "canvas, svg.marks"),  # type: ignore[attr-defined]
        "chart",
        60,
    )
    SCREENSHOT.parent.mkdir(exist_ok=True)
    browser.execute_script("arguments[0].scrollIntoView()", table[0])  # type: ignore[attr-defined,index]
    assert browser.save_screenshot(str(SCREENSHOT))  # type: ignore[attr-defined]
