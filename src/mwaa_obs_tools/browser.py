"""A headless Chromium from the machine (Debian's `chromium` package), driven by Playwright: no browser download.

For the runs views' browser test and the demo's screenshots.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM_VARIABLE = "MWAA_OBS_CHROMIUM"  # a Chromium or Chrome binary, when it is not on PATH as `chromium`
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


class NoBrowser(RuntimeError):
    """No Chromium on this machine."""


def chromium_path() -> str:
    named = os.environ.get(CHROMIUM_VARIABLE)
    found = shutil.which(named) if named else next(filter(None, map(shutil.which, CANDIDATES)), None)
    if not found:
        raise NoBrowser(
            f"no Chromium found ({', '.join(CANDIDATES)} on PATH, or ${CHROMIUM_VARIABLE}): "
            "on Debian or Ubuntu, `sudo apt-get install chromium`"
        )
    return found


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless browser; closed on exit."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only where a browser is wanted

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def screenshot(browser: Any, url: str, path: Path, width: int = 1280, height: int = 400) -> Path:
    """The whole page at `url` as a PNG (at least `height` high)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.goto(url)
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.close()
    return path


def screenshot_html(browser: Any, body: str, path: Path, width: int = 760) -> Path:
    """A page given as HTML (no server) as a PNG, cut to what it draws."""
    page = browser.new_page(viewport={"width": width, "height": 100})
    try:
        page.set_content(body)
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.close()
    return path
