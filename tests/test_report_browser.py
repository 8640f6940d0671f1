"""The report in a real browser: headless Chromium, no network, every chart drawn.

Runs where Debian's ``chromium`` and ``chromium-driver`` are installed (CI's
``.ci/run`` installs them); skipped elsewhere. The page is opened from disk
with the network switched off (offline emulation, and every host name
resolving nowhere), so a chart that needed anything from the internet would
fail here. The screenshot is kept in ``outputs/`` for people to look at.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from test_report import comparison  # noqa: F401  (the shared session fixture)

from sim.present.report import figures, load_saved, write_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium "
        "chromium-driver)",
    ),
]

SCREENSHOT = ROOT / "outputs" / "report_screenshot.png"


def chrome(*flags: str, window: str = "1200,900") -> Any:
    """Headless Chromium through its driver (the caller quits it), with ``flags`` added."""
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={window}",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        *flags,
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    return webdriver.Chrome(options=options, service=service)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # no name resolves: nothing can be fetched
    driver = chrome("--host-resolver-rules=MAP * ~NOTFOUND")
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def comparison_report(comparison: tuple[object, Path]) -> Path:  # noqa: F811
    """The comparison of test_report.py (two years, investment): every chart of a report."""
    return write_report(comparison[1])


def _open(driver: object, page: Path, timeout_s: float = 60.0) -> dict[str, object]:
    driver.get(page.as_uri())  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout_s
    state: dict[str, object] = {}
    while time.monotonic() < deadline:
        state = driver.execute_script("return window.leftshiftReport || {}")  # type: ignore[attr-defined]
        if state.get("done"):
            return state
        time.sleep(0.2)
    raise AssertionError(f"the report did not finish rendering in {timeout_s} s: {state}")


def test_every_chart_renders_offline(browser: object, comparison_report: Path) -> None:
    from selenium.webdriver.common.by import By

    state = _open(browser, comparison_report)
    expected = len(figures(load_saved(comparison_report.parent)))
    assert state == {"charts": expected, "rendered": expected, "failed": 0, "done": True}

    divs = browser.find_elements(By.CSS_SELECTOR, "div.chart")  # type: ignore[attr-defined]
    assert len(divs) == expected
    for div in divs:
        assert div.get_attribute("data-rendered") == "true", div.get_attribute("id")
        drawn = div.find_elements(By.CSS_SELECTOR, "svg.marks, canvas.marks")
        assert len(drawn) == 1, div.get_attribute("id")
        size = drawn[0].size
        assert size["width"] > 100, (div.get_attribute("id"), size)
        assert size["height"] > 50, (div.get_attribute("id"), size)

    logs = browser.get_log("browser")  # type: ignore[attr-defined]
    problems = [e for e in logs if e["level"] in ("SEVERE", "WARNING")]
    assert problems == []

    SCREENSHOT.parent.mkdir(exist_ok=True)
    width, height = browser.execute_script(  # type: ignore[attr-defined]
        "return [document.body.scrollWidth, document.body.scrollHeight]"
    )
    browser.set_window_size(max(1200, width), min(height + 100, 12000))  # type: ignore[attr-defined]
    assert browser.save_screenshot(str(SCREENSHOT))  # type: ignore[attr-defined]


def test_the_page_needs_no_network(comparison_report: Path) -> None:
    """Nothing is loaded from elsewhere: no src or href to another host, no fetch of data."""
    text = comparison_report.read_text(encoding="utf-8")
    head = text[: text.index("<script>")]
    body = text[text.index("</head>") :]
    assert "http://" not in head + body.split('<script type="application/json"')[0]
    assert 'src="http' not in text
    assert text.count("window.vegaEmbed=") == 1  # the libraries, once for the page
    assert '"url":' not in text  # every chart's data inline


@pytest.fixture(scope="module")
def uncertainty_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small two-level experiment: a plan with uncertain inputs against do nothing."""
    from test_uncertainty import _pair

    from sim.experiments.uncertainty import load_uncertainty, run_uncertainty

    out = tmp_path_factory.mktemp("uncertainty") / "out"
    run_uncertainty(load_uncertainty(_pair(), draws=8, reps=2), out)
    return write_report(out)


def test_the_uncertainty_report_shows_target_probabilities_and_the_tornado(
    browser: object, uncertainty_report: Path
) -> None:
    from selenium.webdriver.common.by import By

    state = _open(browser, uncertainty_report)
    # the target probabilities, and a tornado for each scenario with uncertain inputs
    assert state == {"charts": 3, "rendered": 3, "failed": 0, "done": True}
    table = browser.find_element(By.CSS_SELECTOR, "table.uncertainty")  # type: ignore[attr-defined]
    assert "probability of meeting it" in table.text
    assert "Monte Carlo error" in table.text
    for slug in ("target-probability", "tornado-base", "tornado-plan"):
        div = browser.find_element(By.ID, f"chart-{slug}")  # type: ignore[attr-defined]
        assert div.get_attribute("data-rendered") == "true", slug
        drawn = div.find_element(By.CSS_SELECTOR, "svg.marks")
        assert drawn.size["width"] > 100, slug
        assert drawn.size["height"] > 50, slug
    tornado = browser.find_element(By.ID, "chart-tornado-plan").text  # type: ignore[attr-defined]
    assert "cohorts.older.avoidable_share" in tornado
    logs = browser.get_log("browser")  # type: ignore[attr-defined]
    assert [e for e in logs if e["level"] in ("SEVERE", "WARNING")] == []
    shot = ROOT / "outputs" / "uncertainty_report_screenshot.png"
    shot.parent.mkdir(exist_ok=True)
    browser.set_window_size(1200, 2400)  # type: ignore[attr-defined]
    assert browser.save_screenshot(str(shot))  # type: ignore[attr-defined]
