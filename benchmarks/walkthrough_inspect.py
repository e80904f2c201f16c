"""Issue #13's acceptance walk-through, driven in Debian's Chromium (Playwright) against the real app.

The story: a newcomer picks d2l's small VGG (``d2l_vgg11_small``) in Explore, trains it on ``shapes`` in the Train
tab, opens Inspect, inspects the last run, draws a ring on the sketchpad with the mouse, and sees the network call
it a ring, with each block's feature maps and a Grad-CAM map; then runs d2l's one-click comparison of the four
families in the Runs tab and sees their curves overlaid. Screenshots (cropped to the relevant part of the page) go
to ``--out`` (default ``tests/screenshots``: ``inspect.png`` and ``runs.png``, the README's pictures).

    .venv/bin/python -m benchmarks.walkthrough_inspect [--out DIR] [--examples 3000] [--epochs 2]
        [--compare-examples 2000] [--compare-epochs 2] [--skip-compare] [--extra-shots /tmp]

``--extra-shots DIR`` also takes the Inspect tab at 390 px wide and with a Chinese browser locale (``zh-CN``)
into DIR. Not a pytest test (nothing here is collected): it trains real networks for minutes on a CPU.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser import launch_browser, open_tab, start_app  # noqa: E402

PRESET = "d2l_vgg11_small"
CHECKPOINT = "/tmp/walkthrough-vgg.pt"  # the trained run, for the 390 px and Chinese shots (other sessions)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def visible(locator):  # noqa: ANN001, ANN201
    """The first visible match (other tabs keep their hidden widgets in the page)."""
    for i in range(locator.count()):
        if locator.nth(i).is_visible():
            return locator.nth(i)
    return locator.first


def fill_number(page, label: str, value: str) -> None:  # noqa: ANN001
    box = visible(page.get_by_label(label, exact=True))
    box.fill(value)
    box.press("Tab")


def choose_shapes(page) -> None:  # noqa: ANN001
    """Pick the built-in ``shapes`` data set in the Train tab's Dataset dropdown (if it is not already)."""
    box = visible(page.get_by_label("Dataset", exact=True))
    if "shapes" not in (box.input_value() or "").lower():
        box.click()
        page.get_by_role("option").filter(has_text="hapes").first.click()
    log(f"dataset: {box.input_value()!r}")


def draw_ring(page, outer: float = 0.3, inner: float | None = None, points: int = 24) -> None:  # noqa: ANN001
    """Pick the brush, then draw a circle with the mouse in the middle of the sketchpad's canvas; with ``inner``,
    concentric circles from ``inner`` to ``outer`` (fractions of the canvas) make a thick band like the data's
    rings (their hole is 45-65 % of their radius)."""
    page.locator("#inspect-sketch button[aria-label=Brush]").click()
    canvas = page.locator("#inspect-sketch canvas").first
    expect(canvas).to_be_visible(timeout=10_000)
    box = canvas.bounding_box()
    assert box and box["width"] > 50 and box["height"] > 50, box
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    side = min(box["width"], box["height"])
    radii = [outer] if inner is None else [inner + (outer - inner) * k / 4 for k in range(5)]
    for radius in radii:
        r = side * radius
        page.mouse.move(cx + r, cy)
        page.mouse.down()
        for i in range(1, points + 2):  # one point past the start closes the circle
            angle = 2 * math.pi * i / points
            page.mouse.move(cx + r * math.cos(angle), cy + r * math.sin(angle), steps=3)
        page.mouse.up()


def clear_sketch(page) -> None:  # noqa: ANN001
    for label in ("Clear canvas", "Clear"):
        button = page.locator(f"#inspect-sketch button[aria-label='{label}']")
        if button.count() and button.first.is_visible():
            button.first.click()
            return


def top_class(page) -> str:  # noqa: ANN001
    """The predicted class, from the message ("Predicted ring (87.0%). ...")."""
    match = re.search(r"Predicted (.+?) \(", page.locator("#inspect-message").inner_text())
    return match.group(1) if match else ""


def crop_shot(page, path: Path, top_selector: str, bottom_selector: str, width: int) -> None:  # noqa: ANN001
    """A full-page screenshot clipped from the top of one element to the bottom of another."""
    top = page.locator(top_selector).first.bounding_box()
    bottom = page.locator(bottom_selector).first.bounding_box()
    scroll = page.evaluate("() => window.scrollY")
    y0 = max(0, top["y"] + scroll - 12)
    y1 = bottom["y"] + scroll + bottom["height"] + 12
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": y0, "width": width, "height": y1 - y0})
    log(f"saved {path}")


def train_and_inspect(page, args: argparse.Namespace, url: str) -> dict:  # noqa: ANN001
    page.goto(f"{url}?preset={PRESET}")
    expect(page.locator("#headline")).to_be_visible(timeout=30_000)
    open_tab(page, "Train")
    expect(page.locator("#train-network")).to_contain_text("VGG", timeout=20_000)
    choose_shapes(page)
    fill_number(page, "Epochs", str(args.epochs))
    fill_number(page, "Training examples (0 = all)", str(args.examples))
    log(f"training {PRESET} on shapes: {args.epochs} epochs, {args.examples} examples")
    started = time.time()
    page.get_by_role("button", name="Start", exact=True).click()
    expect(page.locator("#train-status")).to_contain_text("Done", timeout=600_000)
    log(f"trained in {time.time() - started:.0f} s: {page.locator('#train-status').inner_text()[:200]!r}")
    log(f"results: {page.locator('#train-results').inner_text()[:300]!r}")
    link = page.locator("a[href*='.pt']").first
    if link.count():
        with page.expect_download() as download:
            link.click()
        download.value.save_as(CHECKPOINT)
        log(f"checkpoint saved to {CHECKPOINT}")

    open_tab(page, "Inspect")
    page.locator("#inspect-use-train").click()
    expect(page.locator("#inspect-network")).to_contain_text("parameters", timeout=30_000)
    expect(page.locator("#inspect-features img").first).to_be_visible(timeout=30_000)
    page.get_by_role("tab", name="Draw").click()
    tries, predicted = 0, ""
    # A thin circle first (the brush is 14 of the canvas's 280 px), then thicker bands like the data's rings.
    for outer, inner in ((0.3, None), (0.34, 0.2), (0.36, 0.2), (0.3, 0.16), (0.38, 0.24), (0.33, 0.18)):
        tries += 1
        clear_sketch(page)
        old = page.locator("#inspect-features img").first.get_attribute("src")
        draw_ring(page, outer, inner)
        page.locator("#inspect-draw-go").click()
        expect(page.locator("#inspect-message")).to_contain_text("Predicted", timeout=30_000)
        page.wait_for_function(
            "(old) => { const img = document.querySelector('#inspect-features img');"
            " return img && img.src && img.src !== old; }", arg=old, timeout=30_000)
        predicted = top_class(page)
        log(f"try {tries} (outer {outer}, inner {inner}): top class {predicted!r};"
            f" message {page.locator('#inspect-message').inner_text()[:160]!r}")
        if predicted.lower() == "ring":
            break
    expect(page.locator("#inspect-details")).to_contain_text("Time:", timeout=30_000)
    page.wait_for_timeout(800)  # let the pictures paint
    return {"tries": tries, "predicted": predicted}


def compare(page, args: argparse.Namespace) -> None:  # noqa: ANN001
    open_tab(page, "Runs")
    fill_number(page, "Epochs", str(args.compare_epochs))
    fill_number(page, "Training examples (0 = all)", str(args.compare_examples))
    log(f"d2l's comparison: {args.compare_epochs} epoch(s), {args.compare_examples} examples each")
    started = time.time()
    page.locator("#runs-start").click()
    expect(page.locator("#runs-status")).to_contain_text("Done: 4 of 4", timeout=args.compare_timeout * 1000)
    log(f"compared in {time.time() - started:.0f} s: {page.locator('#runs-status').inner_text()[:200]!r}")
    expect(page.locator("#runs-count")).to_contain_text("runs in this session", timeout=30_000)
    log(f"differences: {page.locator('#runs-differences').inner_text()[:400]!r}")
    page.wait_for_timeout(1500)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "screenshots")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--examples", type=int, default=4000)
    parser.add_argument("--compare-epochs", type=int, default=2)
    parser.add_argument("--compare-examples", type=int, default=2000)
    parser.add_argument("--compare-timeout", type=int, default=1800, help="seconds")
    parser.add_argument("--skip-compare", action="store_true")
    parser.add_argument("--extra-shots", type=Path, help="also take Inspect at 390 px and in zh-CN into this folder")
    args = parser.parse_args(argv)

    demo, url = start_app()
    try:
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            context = browser.new_context(viewport={"width": args.width, "height": 1400}, accept_downloads=True)
            page = context.new_page()
            try:
                outcome = train_and_inspect(page, args, url)
                crop_shot(page, args.out / "inspect.png", "#inspect-network", "#inspect-features", args.width)
                page.screenshot(path="/tmp/walkthrough-inspect-full.png", full_page=True)
                if not args.skip_compare:
                    compare(page, args)
                    crop_shot(page, args.out / "runs.png", "#runs-count", "#runs-differences", args.width)
                    page.screenshot(path="/tmp/walkthrough-runs-full.png", full_page=True)
            except Exception:
                page.screenshot(path="/tmp/walkthrough-failed.png", full_page=True)
                raise
            finally:
                context.close()
            if args.extra_shots:
                extra_shots(browser, url, args)
            browser.close()
    finally:
        demo.close()
    log(f"ring drawn {outcome['tries']} time(s); the network's top class: {outcome['predicted']!r}")
    return 0 if outcome["predicted"].lower() == "ring" else 1


def extra_shots(browser, url: str, args: argparse.Namespace) -> None:  # noqa: ANN001
    """The Inspect tab at 390 px wide and in a Chinese browser (the last run's network, a drawn ring)."""
    for name, options in (("inspect-390", dict(viewport={"width": 390, "height": 1200})),
                          ("inspect-zh", dict(viewport={"width": 1440, "height": 1400}, locale="zh-CN"))):
        context = browser.new_context(**options)
        page = context.new_page()
        try:
            page.goto(url)
            expect(page.locator("#headline")).to_be_visible(timeout=30_000)
            page.wait_for_timeout(1500)
            tabs = page.get_by_role("tab")
            names = [tabs.nth(i).inner_text() for i in range(tabs.count())]
            log(f"{name}: tabs {names}")
            open_tab(page, "透视网络" if "透视网络" in names else "Inspect")
            page.locator("#inspect-upload input[type=file]").set_input_files(CHECKPOINT)
            expect(page.locator("#inspect-features img").first).to_be_visible(timeout=30_000)
            draw_tab = page.get_by_role("tab", name="手绘" if "zh" in name else "Draw", exact=True)
            draw_tab.first.click()
            old = page.locator("#inspect-features img").first.get_attribute("src")
            draw_ring(page, 0.34, 0.2)
            page.locator("#inspect-draw-go").click()
            page.wait_for_function(
                "(old) => { const img = document.querySelector('#inspect-features img');"
                " return img && img.src && img.src !== old; }", arg=old, timeout=30_000)
            page.wait_for_timeout(1500)
            log(f"{name}: top class {top_class(page)!r}; message {page.locator('#inspect-message').inner_text()!r}")
            args.extra_shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.extra_shots / f"{name}.png"), full_page=True)
            log(f"saved {args.extra_shots / f'{name}.png'}: network {page.locator('#inspect-network').inner_text()!r}")
        except Exception as error:  # noqa: BLE001 - a side shot; report and go on
            log(f"{name} failed: {error}")
            page.screenshot(path=str(args.extra_shots / f"{name}-failed.png"), full_page=True)
        finally:
            context.close()


if __name__ == "__main__":
    raise SystemExit(main())
