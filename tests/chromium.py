"""Debian's Chromium under Playwright for Python, as tests/browser and tests/e2e launch it:
where the binary is, the flags it runs with, and why it cannot (the skip reason) on a
machine without it. Playwright's own browser download is never used, so the suite works
offline. Each package's conftest keeps its own fixtures and its own answer to a missing
browser (tests/e2e fails in CI, tests/browser skips)."""

import os
import shutil

# Playwright's sync API keeps an asyncio loop in this thread; Django would otherwise
# refuse the ORM calls the tests make between browser steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_missing() -> str:
    """Why Chromium cannot be launched here, or "" when it can."""
    if sync_playwright is None:
        return "needs Playwright for Python: pip install -r requirements.txt"
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return f"needs Chromium at {CHROMIUM}: apt-get install chromium"
    return ""


def chromium_launch(playwright):
    """A headless Chromium from the machine's package, with CHROMIUM_ARGS."""
    executable = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
