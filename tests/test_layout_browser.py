"""Layout facts measured in Chromium at a desktop (1440 px) and a phone (390 px) width: the page never scrolls
sideways, the Runs table's last column can be reached inside the table, the GPU monitor has a visible label, and the
Inspect tab's labels neither overlap each other nor cover their pictures. Screenshots go to tests/artifacts/."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from explorer.presets import load_preset  # noqa: E402
from explorer.runs import RunRecord  # noqa: E402
from tests.browser import ARTIFACTS, open_tab  # noqa: E402

WIDTHS = [1440, 390]
HEIGHTS = {1440: 900, 390: 844}
OPEN = re.compile(r"(^|\s)open(\s|$)")  # the sidebar's class while it is open

# The page's width against the window's; a 1 px allowance for sub-pixel rounding.
PAGE_OVERFLOW_JS = "() => [document.documentElement.scrollWidth, window.innerWidth]"

# Label-like elements of the Inspect tab (block labels, dropdown titles) that are shown, with their boxes; and, for
# each block label, the pictures of its own block.
INSPECT_LABELS_JS = """() => {
  const box = e => { const r = e.getBoundingClientRect(); return {x: r.left, y: r.top, r: r.right, b: r.bottom}; };
  const shown = e => e.offsetParent !== null && e.getBoundingClientRect().width > 0;
  const blocks = [...document.querySelectorAll('[id^="inspect-"]')].filter(shown);
  const labels = [];
  for (const block of blocks) {
    for (const label of block.querySelectorAll('[data-testid="block-label"], [data-testid="block-info"]')) {
      if (!shown(label) || !label.textContent.trim()) continue;
      const pictures = [...block.querySelectorAll('img, canvas')].filter(shown).map(box);
      labels.push({text: label.textContent.trim(), block: block.id, ...box(label), pictures});
    }
  }
  return labels;
}"""


def _overlap(a: dict, b: dict, slack: float = 1.0) -> bool:
    return a["x"] < b["r"] - slack and b["x"] < a["r"] - slack and a["y"] < b["b"] - slack and b["y"] < a["b"] - slack


@pytest.fixture(scope="module")
def runs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three runs with long cells (recipe, device), as a run file the Runs tab loads."""
    records = []
    for number, name in enumerate(("d2l_alexnet", "d2l_vgg11_small", "d2l_googlenet")):
        spec = load_preset(name)
        records.append(RunRecord(
            run_id=f"layout-{number}", label=name, family=spec.family, preset=name, spec=spec.to_dict(),
            params=46_787_978, macs=940_000_000, dataset="fashion_mnist",
            config={"optimizer": "adam", "lr": 1e-4, "batch_size": 128, "input_size": 224, "train_subset": 2000},
            epochs=2, steps=32, seconds=83.4, train_seconds=70.0, examples_per_s=1234.5, test_acc=0.71,
            test_loss=0.8, train_acc=0.7, train_loss=0.9, device="cuda:0 (NVIDIA H100 80GB HBM3)", precision="bf16",
            curves={"epoch": [1.0, 2.0], "elapsed_s": [40.0, 83.0], "test_acc": [0.5, 0.71]}))
    path = tmp_path_factory.mktemp("layout-runs") / "runs.json"
    path.write_text(json.dumps([record.to_dict() for record in records]))
    return path


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny VGG trained for one short epoch on ``shapes`` at 32 px (about a second on a CPU)."""
    from explorer.training.config import TrainConfig
    from explorer.training.engine import train

    spec = load_preset("d2l_vgg11_small").replace(input_size=32, ratio=16, hidden_sizes=(32,), dropout=0.0)
    config = TrainConfig(dataset="shapes", epochs=1, train_subset=256, test_subset=64, batch_size=64, device="cpu",
                         precision="fp32", checkpoint_dir=str(tmp_path_factory.mktemp("layout-ckpt")),
                         log_every=1000)
    done = list(train(spec, config))[-1]
    assert done.event == "done", getattr(done, "message", done)
    return done.checkpoint_path


@pytest.fixture()
def open_page(browser, app_url):  # noqa: ANN001, ANN201
    """A function: a fresh page at a width, with the app loaded."""
    contexts = []

    def make(width: int):  # noqa: ANN202
        context = browser.new_context(viewport={"width": width, "height": HEIGHTS[width]})
        contexts.append(context)
        page = context.new_page()
        page.goto(app_url)
        expect(page.locator("#headline")).to_contain_text("138,357,544", timeout=30_000)
        return page

    yield make
    for context in contexts:
        context.close()


def _assert_no_page_overflow(page, where: str) -> None:  # noqa: ANN001
    scroll_width, inner_width = page.evaluate(PAGE_OVERFLOW_JS)
    assert scroll_width <= inner_width + 1, f"{where}: the page is {scroll_width} px wide in a {inner_width} px window"


@pytest.mark.parametrize("width", WIDTHS)
def test_explore_page_and_gpu_label(open_page, width: int) -> None:  # noqa: ANN001
    page = open_page(width)
    _assert_no_page_overflow(page, "Explore")
    button = page.locator("#gpu-open")
    expect(button).to_be_visible()
    expect(button).to_have_text("GPU monitor")
    box = button.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 1 and box["y"] >= 0, box  # on screen
    # The label opens the sidebar (it clicks the sidebar's own toggle).
    sidebar = page.locator(".sidebar").first
    expect(sidebar).not_to_have_class(OPEN)
    button.click()
    expect(sidebar).to_have_class(OPEN, timeout=5_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"layout_gpu_{width}.png"))


@pytest.mark.parametrize("width", WIDTHS)
def test_runs_table_scrolls_inside_its_frame(open_page, runs_file: Path, width: int) -> None:  # noqa: ANN001
    page = open_page(width)
    open_tab(page, "Runs")
    page.locator("#runs-upload input[type=file]").set_input_files(str(runs_file))
    table = page.locator("#runs-table")
    expect(table).to_contain_text("d2l_googlenet", timeout=20_000)
    _assert_no_page_overflow(page, "Runs")
    # Each header on one line: a header broken inside a word ("Ep/oc/hs") has several line boxes.
    lines = table.locator(".header-cell .header").evaluate_all("""spans => spans.map(span => {
        const range = document.createRange(); range.selectNodeContents(span);
        const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        return [span.textContent.trim(), tops.size]; })""")
    assert lines and all(count == 1 for _, count in lines), f"headers on several lines: {lines}"
    # The last header is inside the table's frame, or comes into it by scrolling the frame (not the page).
    viewport = table.locator(".virtual-table-viewport").first
    last = table.locator(".header-cell").last
    viewport.evaluate("v => { v.scrollLeft = v.scrollWidth; }")
    page.wait_for_timeout(200)
    frame, cell = viewport.bounding_box(), last.bounding_box()
    assert frame and cell
    assert cell["x"] >= frame["x"] - 1 and cell["x"] + cell["width"] <= frame["x"] + frame["width"] + 1, (
        f"the last column ({cell}) can't be brought inside the table's frame ({frame})")
    assert frame["x"] + frame["width"] <= width + 1, "the table's frame runs off the page"
    ARTIFACTS.mkdir(exist_ok=True)
    table.screenshot(path=str(ARTIFACTS / f"layout_runs_{width}.png"))


@pytest.mark.parametrize("width", WIDTHS)
def test_inspect_labels_do_not_overlap(open_page, checkpoint_path: str, width: int) -> None:  # noqa: ANN001
    page = open_page(width)
    open_tab(page, "Inspect")
    page.locator("#inspect-upload input[type=file]").set_input_files(checkpoint_path)
    expect(page.locator("#inspect-network")).to_contain_text("trained on", timeout=30_000)
    expect(page.locator("#inspect-gallery img").first).to_be_visible(timeout=20_000)
    expect(page.locator("#inspect-seen img").first).to_be_visible(timeout=20_000)
    _assert_no_page_overflow(page, "Inspect")
    labels = page.evaluate(INSPECT_LABELS_JS)
    assert len(labels) >= 8, [label["text"] for label in labels]  # the test sees the tab's labels
    for index, first in enumerate(labels):
        for second in labels[index + 1:]:
            assert not _overlap(first, second), f"labels overlap: {first['text']!r} and {second['text']!r}"
        for picture in first["pictures"]:
            assert not _overlap(first, picture), f"the label {first['text']!r} covers a picture in #{first['block']}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"layout_inspect_{width}.png"), full_page=True)
