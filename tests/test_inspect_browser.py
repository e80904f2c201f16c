"""The Inspect tab in a real browser (Debian's Chromium via Playwright): upload a checkpoint the test trained,
draw on the sketchpad with the mouse, inspect, and see the feature maps; screenshots at 1440 and 390 px wide go to
/tmp (not into git)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from explorer.presets import load_preset  # noqa: E402
from explorer.training.config import TrainConfig  # noqa: E402
from explorer.training.engine import train  # noqa: E402
from tests.browser import open_tab  # noqa: E402

SCREENSHOTS = Path(os.environ.get("EXPLORER_SCREENSHOTS", tempfile.gettempdir())) / "inspect-screens"


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny VGG trained for a few steps on ``shapes`` at 32 px (about a second)."""
    folder = tmp_path_factory.mktemp("inspect-browser")
    spec = load_preset("d2l_vgg11_small").replace(input_size=32, ratio=16, hidden_sizes=(32,), dropout=0.0)
    config = TrainConfig(dataset="shapes", epochs=1, train_subset=512, test_subset=128, batch_size=64, device="cpu",
                         precision="fp32", checkpoint_dir=str(folder), log_every=1000)
    done = list(train(spec, config))[-1]
    assert done.event == "done", getattr(done, "message", done)
    return done.checkpoint_path


def _image_src(page, elem_id: str):  # noqa: ANN001, ANN202
    return page.locator(f"#{elem_id} img").first


def _draw(page) -> None:  # noqa: ANN001
    """Pick the brush, then a triangle with the mouse in the middle of the sketchpad's canvas."""
    page.locator("#inspect-sketch button[aria-label=Brush]").click()
    canvas = page.locator("#inspect-sketch canvas").first
    expect(canvas).to_be_visible(timeout=10_000)
    box = canvas.bounding_box()
    assert box and box["width"] > 50 and box["height"] > 50, box
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    r = min(box["width"], box["height"]) * 0.3  # inside the white drawing area, centred in the canvas
    points = [(0.0, -1.0), (0.9, 0.7), (-0.9, 0.7), (0.0, -1.0)]
    page.mouse.move(cx + r * points[0][0], cy + r * points[0][1])
    page.mouse.down()
    for fx, fy in points[1:]:
        page.mouse.move(cx + r * fx, cy + r * fy, steps=12)
    page.mouse.up()


@pytest.mark.parametrize("width", [1440, 390])
def test_upload_checkpoint_draw_and_see_maps(browser, app_url: str, checkpoint_path: str, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 1200})
    page = context.new_page()
    try:
        page.goto(app_url)
        expect(page.locator("#headline")).to_contain_text("138,357,544", timeout=30_000)  # the app is up
        open_tab(page, "Inspect")
        # A bad upload first: a message, and nothing else appears.
        bad = Path(tempfile.gettempdir()) / "not-a-checkpoint.pt"
        bad.write_bytes(b"hello, this is not a checkpoint")
        page.locator("#inspect-upload input[type=file]").set_input_files(str(bad))
        expect(page.locator("#inspect-message")).to_contain_text("not a PyTorch checkpoint", timeout=20_000)
        assert page.locator("#inspect-features img").count() == 0

        page.locator("#inspect-upload button[aria-label=Clear]").click()
        page.locator("#inspect-upload input[type=file]").set_input_files(checkpoint_path)
        expect(page.locator("#inspect-network")).to_contain_text("trained on", timeout=30_000)
        expect(page.locator("#inspect-gallery img").first).to_be_visible(timeout=20_000)
        features = _image_src(page, "inspect-features")
        expect(features).to_be_visible(timeout=20_000)
        first_src = features.get_attribute("src")
        assert first_src, "the feature maps have no picture"

        page.get_by_role("tab", name="Draw").click()
        _draw(page)
        page.locator("#inspect-draw-go").click()
        expect(page.locator("#inspect-message")).to_contain_text("Predicted", timeout=20_000)
        expect(page.locator("#inspect-details")).to_contain_text("Time:", timeout=20_000)
        page.wait_for_function(
            "(old) => { const img = document.querySelector('#inspect-features img');"
            " return img && img.src && img.src !== old; }", arg=first_src, timeout=20_000)
        for elem_id in ("inspect-features", "inspect-seen", "inspect-gradcam", "inspect-filters"):
            src = _image_src(page, elem_id).get_attribute("src")
            assert src and len(src) > 10, (elem_id, src)
        assert page.locator("#inspect-top").inner_text().strip()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"inspect-{width}.png"), full_page=True)
    except Exception:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"inspect-{width}-failed.png"), full_page=True)
        raise
    finally:
        context.close()


def _fill_number(page, label: str, value: str) -> None:  # noqa: ANN001
    box = page.get_by_label(label, exact=True).first
    box.fill(value)
    box.press("Tab")


def test_train_then_inspect_and_compare_runs(browser, app_url: str) -> None:
    """Train a tiny network in the Train tab, inspect it from there, and find the run in the Runs tab."""
    from explorer.share import encode_spec

    spec = load_preset("d2l_vgg11_small").replace(input_size=32, ratio=16, hidden_sizes=(32,), dropout=0.0)
    context = browser.new_context(viewport={"width": 1440, "height": 1400}, accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(f"{app_url}?spec={encode_spec(spec)}")
        expect(page.locator("#headline")).to_contain_text(f"{spec.planned_params():,}", timeout=30_000)
        open_tab(page, "Train")
        expect(page.locator("#train-network")).to_contain_text(f"{spec.planned_params():,}", timeout=20_000)
        for label, value in (("Epochs", "1"), ("Training examples (0 = all)", "256"), ("Input size (0 = recipe's)",
                                                                                      "32")):
            _fill_number(page, label, value)
        page.get_by_role("button", name="Start", exact=True).click()
        expect(page.locator("#train-status")).to_contain_text("Done", timeout=120_000)

        open_tab(page, "Inspect")
        page.locator("#inspect-use-train").click()
        expect(page.locator("#inspect-network")).to_contain_text(f"{spec.planned_params():,} parameters",
                                                                 timeout=30_000)
        expect(page.locator("#inspect-features img").first).to_be_visible(timeout=20_000)
        page.locator("#inspect-gallery button").nth(1).click()  # another test image
        expect(page.locator("#inspect-message")).to_contain_text("Predicted", timeout=20_000)

        open_tab(page, "Runs")
        expect(page.locator("#runs-count")).to_contain_text("1 run in this session", timeout=20_000)
        expect(page.locator("#runs-table")).to_contain_text("shapes")
        page.locator("#runs-download").click()
        expect(page.locator("#runs-file a").first).to_be_visible(timeout=20_000)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "runs-1440.png"), full_page=True)
        with page.expect_download() as download_info:
            page.locator("#runs-file a").first.click()
        saved = Path(tempfile.gettempdir()) / "inspect-screens" / "downloaded.run.json"
        download_info.value.save_as(str(saved))
        from explorer.runs import read_run

        (record,) = read_run(saved)
        assert record.dataset == "shapes" and record.curves["test_acc"]
        # loading it back lists it once more (a second copy would be identical: not added twice)
        page.locator("#runs-upload input[type=file]").set_input_files(str(saved))
        expect(page.locator("#runs-message")).to_contain_text("Loaded 1 run", timeout=20_000)
        expect(page.locator("#runs-count")).to_contain_text("1 run in this session")
    except Exception:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "runs-failed.png"), full_page=True)
        raise
    finally:
        context.close()


def test_d2l_comparison_button_trains_and_compares(browser, app_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The button trains the picked networks one after another and shows them side by side (tiny stand-ins for
    the presets, so the test takes seconds; the app runs in this process)."""
    from explorer.ui import runs_panel

    tiny = load_preset("d2l_vgg11_small").replace(input_size=32, ratio=16, hidden_sizes=(32,), dropout=0.0)

    def settings(name, dataset, epochs, examples, lr=None, device="auto"):  # noqa: ANN001, ANN202
        return (tiny, "short", dataset, epochs, 64, 1e-3, "adam", "fp32", "cpu", 32, 128)

    monkeypatch.setattr(runs_panel, "comparison_settings", settings)
    context = browser.new_context(viewport={"width": 1440, "height": 1400})
    page = context.new_page()
    try:
        page.goto(app_url)
        expect(page.locator("#headline")).to_contain_text("138,357,544", timeout=30_000)
        open_tab(page, "Runs")
        for name in ("d2l_vgg11_small", "d2l_googlenet"):  # leave two of the four picked
            page.locator("#runs-presets label", has_text=name).click()
        _fill_number(page, "Epochs", "1")
        page.locator("#runs-start").click()
        expect(page.locator("#runs-status")).to_contain_text("Done: 2 of 2", timeout=120_000)
        expect(page.locator("#runs-count")).to_contain_text("2 runs in this session")
        expect(page.locator("#runs-differences")).to_contain_text("test accuracy")
        expect(page.locator("#runs-table")).to_contain_text("VGG (edited)")
        assert page.locator("#runs-curves .js-plotly-plot .scatterlayer .trace").count() == 4
    except Exception:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "comparison-failed.png"), full_page=True)
        raise
    finally:
        context.close()
