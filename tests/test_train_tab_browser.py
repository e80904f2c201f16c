"""The Train tab in a real browser (Debian's Chromium via Playwright): a refused and a failed run end in the status
line, with no Gradio error (toast or red "Error" pill on the outputs)."""
from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from tests.browser import ARTIFACTS, open_tab  # noqa: E402

#: Gradio's error marks: the toast, and the status tracker's red "Error" pill on an output.
GRADIO_ERRORS = ".toast-body.error, [data-testid='status-tracker'] .error, span.error"


def trained_params() -> int:
    """VGG-16 as Start trains it from the page as it opens: the short recipe's input size, the dataset's 10 classes."""
    from explorer.presets import get_preset
    from explorer.training.recipes import short_recipe_info
    from explorer.ui.train_panel import default_dataset

    spec = get_preset("vgg16").spec
    size = short_recipe_info(spec, dataset=default_dataset()).config.input_size or spec.input_size
    return spec.replace(input_size=size, num_classes=10).planned_params()


def test_failed_runs_end_in_the_status_line(browser, app_url, monkeypatch, tmp_path) -> None:
    from explorer.training import data

    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path))  # Fashion-MNIST is not on disk...
    monkeypatch.setattr(data, "unreachable_reason", lambda hosts, timeout=5.0: "network is unreachable (test)")
    context = browser.new_context(viewport={"width": 1440, "height": 1800})
    page = context.new_page()
    try:
        page.goto(app_url)
        expect(page.locator("#headline")).to_contain_text("138,357,544", timeout=30_000)  # VGG-16
        open_tab(page, "Train")
        network = page.locator("#train-network")
        expect(network).to_contain_text("Start trains", timeout=10_000)
        expect(network).to_contain_text(f"{trained_params():,} parameters")
        href = network.get_by_role("link", name="open the trained network in Explore").get_attribute("href")
        assert "?spec=" in href, href
        # VGG-16's short recipe, not the 1e-3 that makes its loss explode
        expect(page.get_by_label("Learning rate", exact=True)).to_have_value("0.0001")
        status = page.locator("#train-status")

        page.get_by_label("Batch size", exact=True).fill("0")
        page.get_by_role("button", name="Start", exact=True).click()
        expect(status).to_contain_text("Batch size: must be a whole number between 1 and 4096, got 0",
                                       timeout=20_000)
        expect(page.locator(GRADIO_ERRORS)).to_have_count(0)

        page.get_by_label("Batch size", exact=True).fill("32")
        page.get_by_label("Dataset", exact=True).click()
        page.get_by_role("option", name=re.compile("Fashion-MNIST")).click()
        page.get_by_role("button", name="Start", exact=True).click()
        expect(status).to_contain_text("The dataset could not be loaded", timeout=40_000)
        expect(status).to_contain_text("shapes")  # what to try instead
        expect(page.locator(GRADIO_ERRORS)).to_have_count(0)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "train_failed_run.png"), full_page=True)

        page.get_by_role("button", name="Stop", exact=True).click()
        expect(status).to_contain_text("nothing to stop", timeout=10_000)

        # the link opens the network Start trains (VGG-16 at its short-run size, 10 classes) in Explore
        trained = context.new_page()
        trained.goto(urljoin(page.url, href))
        expect(trained.locator("#headline")).to_contain_text(f"{trained_params():,}", timeout=30_000)
    finally:
        context.close()
