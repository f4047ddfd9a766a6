"""A headless Chromium driven by Selenium, for the report's tests, benchmark and README screenshot.

Only a browser and driver already installed are used (Debian: ``apt-get install chromium chromium-driver``):
the driver path is passed explicitly, so Selenium Manager never runs and nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DRIVERS = ("chromedriver", "/usr/lib/chromium/chromedriver")


def _which(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK) else None)
        if found:
            return found
    return None


def find_browser() -> tuple[str, str] | None:
    """(browser, driver) executables, from ``$MMVIDEO_CHROMIUM``/``$MMVIDEO_CHROMEDRIVER`` or PATH; else None."""
    browser = _which((os.environ["MMVIDEO_CHROMIUM"],)) if os.environ.get("MMVIDEO_CHROMIUM") else _which(BROWSERS)
    driver = (_which((os.environ["MMVIDEO_CHROMEDRIVER"],)) if os.environ.get("MMVIDEO_CHROMEDRIVER")
              else _which(DRIVERS))
    return (browser, driver) if browser and driver else None


@contextmanager
def headless_chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A Selenium Chrome WebDriver on the installed Chromium, browser console logs kept; quit on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = find_browser()
    if found is None:
        raise RuntimeError("no Chromium and chromedriver found (apt-get install chromium chromium-driver)")
    browser, driver_path = found
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", "--mute-audio", f"--window-size={width},{height}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
    try:
        yield drv
    finally:
        drv.quit()


def console_errors(driver: Any) -> list[str]:
    """Browser console entries at level SEVERE since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
