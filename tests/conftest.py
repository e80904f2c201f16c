import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# The repository root on sys.path, so `import explorer` and `from tests.browser import ...` work from anywhere.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pytest_configure(config):
    # Gradio's queue calls pandas APIs that pandas 3 deprecates; not ours to fix.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:gradio.*")
    config.addinivalue_line("filterwarnings", "ignore:.*no_silent_downcasting.*")
    config.addinivalue_line("filterwarnings", "ignore:The copy keyword is deprecated.*")


@pytest.fixture(scope="module")
def app_url():
    """The app served on 127.0.0.1 (a free port) for one test module; closed after it."""
    from tests.browser import start_app

    demo, url = start_app()
    yield url
    demo.close()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, for one test module."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch_browser

    with sync_playwright() as playwright:
        launched = launch_browser(playwright)
        yield launched
        launched.close()
