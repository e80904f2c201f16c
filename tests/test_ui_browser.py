"""The Explore page in a real browser (Debian's Chromium via Playwright): edit, errors, export, share, latency."""
from __future__ import annotations

import json
import statistics
import time
from urllib.parse import parse_qs, urlparse

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from explorer import load_preset, parse_spec  # noqa: E402
from tests.browser import ARTIFACTS, open_tab  # noqa: E402

VGG11_ARCH = "((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))"
VGG16_ARCH = "((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))"


@pytest.fixture()
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1440, "height": 1600}, accept_downloads=True)
    page = context.new_page()
    page.goto(app_url)
    expect(page.locator("#headline")).to_contain_text("138,357,544", timeout=30_000)  # vgg16 by default
    yield page
    context.close()


def conv_arch_box(page):
    return page.locator("#conv-arch textarea")


def test_edit_conv_arch_updates_numbers_charts_and_table(page):
    conv_arch_box(page).fill(VGG11_ARCH)
    expect(page.locator("#headline")).to_contain_text("132,863,336", timeout=10_000)
    expect(page.locator("#chart")).to_contain_text("total 132.86M", timeout=10_000)
    table = page.locator("#layer-table")
    expect(table).not_to_contain_text("features.block1.conv2", timeout=10_000)  # VGG-11 has one conv in block 1
    expect(page.locator("#diagram")).to_contain_text("3x3 conv 256 ×2", timeout=10_000)  # block 3: two convs
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explore_vgg11.png"), full_page=True)


def test_invalid_text_shows_inline_error_and_keeps_last_results(page):
    conv_arch_box(page).fill("((1, 64), (1, 128), (2,))")
    error = page.locator("#spec-error")
    expect(error).to_be_visible(timeout=10_000)
    expect(error).to_contain_text("conv_arch[2]")
    expect(error).to_contain_text("each block is a pair (num_convs, out_channels)")
    expect(page.locator("#headline")).to_contain_text("138,357,544")  # the last valid network stays on screen
    conv_arch_box(page).fill("__import__('os').system('touch /tmp/pwned')")
    expect(error).to_contain_text("conv_arch", timeout=10_000)
    conv_arch_box(page).fill(VGG11_ARCH)
    expect(error).to_be_hidden(timeout=10_000)
    expect(page.locator("#headline")).to_contain_text("132,863,336", timeout=10_000)


def test_too_small_input_names_the_block(page):
    page.locator("#input-size input").fill("28")
    page.locator("#input-size input").press("Enter")
    expect(page.locator("#spec-error")).to_contain_text("block 5: spatial size 0x0 after max-pool", timeout=10_000)


def test_preset_switch_to_googlenet_shows_inception_table(page):
    page.get_by_label("GoogLeNet").check()
    expect(page.locator("#headline")).to_contain_text("6,624,904", timeout=15_000)
    expect(page.locator("#inception-table")).to_contain_text("pool_proj")
    expect(page.locator("#diagram")).to_contain_text("inception 4e", timeout=10_000)


def test_export_json_downloads_the_current_spec(page, tmp_path):
    conv_arch_box(page).fill(VGG11_ARCH)
    expect(page.locator("#headline")).to_contain_text("132,863,336", timeout=10_000)
    page.get_by_text("Export this network").click()
    page.get_by_label("JSON spec (.json)").check()
    page.locator("#export-button").click()
    link = page.locator("#export-file a").first
    expect(link).to_be_visible(timeout=30_000)
    with page.expect_download() as download_info:
        link.click()
    path = tmp_path / "spec.json"
    download_info.value.save_as(path)
    spec = parse_spec(json.loads(path.read_text()))
    assert spec == load_preset("vgg11")


def test_share_url_restores_the_network(page, browser):
    conv_arch_box(page).fill("((1, 32), (2, 64), (2, 128))")
    expect(page.locator("#headline")).not_to_contain_text("138,357,544", timeout=10_000)
    page.wait_for_function("() => window.location.search.includes('spec=')", timeout=10_000)
    shared = page.url
    assert "spec" in parse_qs(urlparse(shared).query)
    from explorer import analyze

    expected = f"{analyze(load_preset('vgg16').replace(conv_arch=((1, 32), (2, 64), (2, 128)))).total_params:,}"
    expect(page.locator("#headline")).to_contain_text(expected)
    other = browser.new_context().new_page()
    try:
        other.goto(shared)
        expect(other.locator("#conv-arch textarea")).to_have_value("((1, 32), (2, 64), (2, 128))", timeout=30_000)
        expect(other.locator("#headline")).to_contain_text(expected, timeout=10_000)
        other.goto(shared.split("?")[0] + "?spec=not-a-real-token")
        expect(other.locator("#spec-error")).to_contain_text("could not be restored", timeout=30_000)
    finally:
        other.context.close()


def test_edit_to_chart_latency_vgg16(page):
    """Median time from an edit to the updated chart on screen, for VGG-16 (reported, loosely bounded)."""
    box = conv_arch_box(page)
    samples = []
    for index in range(12):
        width = 64 + 8 * (index % 2 + 1) * (index + 1)
        arch = f"((2, {width}), (2, 128), (3, 256), (3, 512), (3, 512))"
        expected = load_preset("vgg16").replace(conv_arch=arch)
        from explorer import analyze

        total = f"{analyze(expected).total_params:,}"
        start = time.perf_counter()
        box.fill(arch)
        page.wait_for_function(
            "([total, short]) => document.querySelector('#headline').innerText.includes(total)"
            " && document.querySelector('#chart').innerText.includes(short)",
            arg=[total, f"total {analyze(expected).total_params / 1e6:.2f}M"], timeout=10_000, polling="raf")
        samples.append((time.perf_counter() - start) * 1000)
    median = statistics.median(samples)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "latency.json").write_text(json.dumps({"median_ms": median, "samples_ms": samples}, indent=2))
    print(f"\nedit-to-chart latency, VGG-16: median {median:.0f} ms, p90 "
          f"{sorted(samples)[int(0.9 * len(samples))]:.0f} ms over {len(samples)} edits")
    assert median < 3000, samples  # a sanity bound; the goal (<= 300 ms) is reported in the README


def test_readme_screenshot(page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explorer.png"), full_page=False)
    assert (ARTIFACTS / "explorer.png").stat().st_size > 10_000


def test_gpu_sidebar_says_why_there_is_no_gpu(page):
    page.get_by_role("button", name="Toggle Sidebar").click()
    import torch

    if torch.cuda.is_available():
        expect(page.get_by_text("GPU utilisation").first).to_be_visible(timeout=15_000)
    else:
        expect(page.get_by_text("No NVIDIA GPU detected").first).to_be_visible(timeout=15_000)
        expect(page.get_by_text("CPU utilisation").first).to_be_visible(timeout=15_000)


def test_lessons_view_loads_a_network_and_computes_answers(page):
    page.get_by_role("tab", name="Lessons").click()
    page.locator("#lesson-picker").get_by_text("NiN", exact=False).first.click()
    page.locator("#lesson-load").click()
    page.get_by_role("tab", name="Explore").click()
    expect(page.locator("#headline")).to_contain_text("1,992,166", timeout=15_000)  # d2l's NiN
    page.get_by_role("tab", name="Lessons").click()
    page.locator("#lesson-show-answers").get_by_role("checkbox").check()
    expect(page.locator("#lesson-answers")).to_contain_text("46,764,746", timeout=10_000)  # d2l's AlexNet


def test_chinese_ui_follows_the_browser_language(browser, app_url):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1400})
    try:
        page = context.new_page()
        page.goto(app_url)
        expect(page.get_by_role("tab", name="探索")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("tab", name="课程")).to_be_visible()
        expect(page.get_by_text("输入尺寸（像素）")).to_be_visible()
        expect(page.locator("#headline")).to_contain_text("参数量", timeout=15_000)
        page.locator("#conv-arch textarea").fill(VGG11_ARCH)
        expect(page.locator("#headline")).to_contain_text("132,863,336", timeout=10_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "explorer_zh.png"), full_page=False)
    finally:
        context.close()


def test_width_ratio_zero_says_which_field(page):
    ratio = page.locator("#vgg-ratio input")
    ratio.fill("0")
    ratio.press("Enter")
    error = page.locator("#spec-error")
    expect(error).to_contain_text("ratio", timeout=10_000)
    expect(error).to_contain_text("between 1 and 1024")
    expect(page.locator("#headline")).to_contain_text("138,357,544")


def test_an_edit_marks_the_preset_as_edited(page):
    expect(page.locator("#preset-note")).not_to_contain_text("edited")
    conv_arch_box(page).fill(VGG11_ARCH.replace("(1, 64)", "(1, 32)"))
    expect(page.locator("#preset-note")).to_contain_text("edited (from vgg16)", timeout=10_000)


def test_inception_headers_fit_and_nin_rows_can_be_added(page):
    page.get_by_label("GoogLeNet").check()
    expect(page.locator("#headline")).to_contain_text("6,624,904", timeout=15_000)
    headers = page.evaluate("""() => {
        const table = document.querySelector('#inception-table').getBoundingClientRect();
        return [...document.querySelectorAll('#inception-table th span.header')].map(span => [
            span.innerText, span.scrollWidth <= span.clientWidth + 1,
            span.getBoundingClientRect().right <= table.right + 1]);
    }""")
    assert [name for name, _, _ in headers] == ["block", "in", "out", "ch1x1", "ch3x3red", "ch3x3", "ch5x5red",
                                                 "ch5x5", "pool_proj"]
    assert all(fits and inside for _, fits, inside in headers), headers  # not cut off, not off-screen
    page.get_by_label("NiN").check()
    expect(page.locator("#headline")).to_contain_text("1,992,166", timeout=15_000)
    cells = page.locator("#nin-table [role=gridcell]")  # five per block
    expect(cells).to_have_count(15)
    page.get_by_role("button", name="Add block").click()
    expect(cells).to_have_count(20, timeout=10_000)
    expect(page.locator("#spec-error")).to_be_hidden()  # a blank row waits to be filled in


def test_pin_then_edit_compares_spec_objects_held_in_state(page):
    page.locator("#pin").click()
    conv_arch_box(page).fill(VGG11_ARCH)
    expect(page.locator("#delta")).to_contain_text("Compared with pinned A", timeout=10_000)
    page.get_by_role("tab", name="Compare").click()
    expect(page.locator("#compare-table")).to_contain_text("138,357,544", timeout=10_000)  # A: vgg16
    expect(page.locator("#compare-table")).to_contain_text("132,863,336")  # B: the edit (vgg11)


def test_api_tab_shows_the_pages_own_address(page, app_url):
    open_tab(page, "API")
    help_text = page.locator("#api-help")
    expect(help_text).to_contain_text(f'Client("{app_url}")', timeout=10_000)  # a free port, not 7860


def test_memory_batch_size_zero_is_named_not_replaced(page):
    box = page.get_by_label("Batch size (memory estimate)")
    box.fill("0")
    box.press("Enter")
    error = page.locator("#spec-error")
    expect(error).to_contain_text("Batch size (memory estimate) must be a whole number", timeout=10_000)
    expect(page.locator("#headline")).to_contain_text("batch 128")  # the last good estimate stays
    box.fill("16")
    box.press("Enter")
    expect(error).to_be_hidden(timeout=10_000)
    expect(page.locator("#headline")).to_contain_text("batch 16", timeout=10_000)
