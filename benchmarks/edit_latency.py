"""Edit -> visible update latency on the Explore page, measured by the page's own clock in Chromium.

Run: .venv/bin/python benchmarks/edit_latency.py [--edits 24] [--url URL] [--json out.json]
Without --url it starts the app (python app.py) in a separate process on 127.0.0.1 and a free port, as a real
server runs (the browser and this script then compete with it only for the CPU, not for one interpreter lock).

Two edits, each made ``--edits`` times with a different value (a network the server has not analysed: "new"), then
the same values again (answered by the server's analysis cache: "seen"; the difference is the analysis's share):
- VGG-16's ``conv_arch`` text box gets a new value (``fill``): a different first-block width each time.
- GoogLeNet's Inception table: a double-click on inception 3a's ch1x1 cell, a new number, Enter.

Each measurement runs in the page: a listener records ``performance.now()`` when the edit happens (the text box's
``input`` event; the Enter that commits the table cell), and a MutationObserver installed before the edit resolves
when the headline's parameter count differs from its text before the edit. ``update`` is that moment (the DOM holds
the new text); ``painted`` is the next animation frame after it (the new text is on screen). Playwright's own
round trips are not counted. Between edits the script waits two frames and 300 ms so one update's rendering does not leak
into the next.
Goals (for "new" networks): VGG median <= 200 ms, GoogLeNet median <= 250 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from benchmarks.load import start_server  # noqa: E402
from tests.browser import launch_browser  # noqa: E402

GOALS_MS = {"vgg16 conv_arch": 200.0, "googlenet inception cell": 250.0}

# Installed before each edit: resolves {update, painted, text} once the headline's first value (the parameter
# count) differs from ``before``; the clock starts at the first ``start_event`` (capture phase, so it runs before
# Gradio's own handlers). Rejects after 20 s.
ARM_JS = """([before, startEvent, startKey]) => {
  const read = () => document.querySelector('#headline .stat-value')?.textContent ?? '';
  let started = null;
  const onStart = (event) => {
    if (startKey && event.key !== startKey) return;
    if (started === null) started = performance.now();
  };
  document.addEventListener(startEvent, onStart, true);
  window.__editDone = new Promise((resolve, reject) => {
    const timer = setTimeout(() => { observer.disconnect(); reject(new Error('no update in 20 s')); }, 20000);
    const observer = new MutationObserver(() => {
      const text = read();
      if (text === before || started === null) return;
      const update = performance.now();
      observer.disconnect();
      clearTimeout(timer);
      document.removeEventListener(startEvent, onStart, true);
      requestAnimationFrame(() => resolve({update: update - started, painted: performance.now() - started, text}));
    });
    observer.observe(document.body, {subtree: true, childList: true, characterData: true});
  });
}"""
HEADLINE_JS = "() => document.querySelector('#headline .stat-value')?.textContent ?? ''"


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", load average %.2f %.2f %.2f" % os.getloadavg() if hasattr(os, "getloadavg") else ""
    return f"{os.cpu_count()} logical cores ({len(os.sched_getaffinity(0))} usable), {model}{load}"


def settle(page) -> None:  # noqa: ANN001
    """Let the last update's other outputs (chart, table, diagram) finish drawing: two frames, then 300 ms.
    (Gradio keeps a connection open, so "network idle" never comes.)"""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.wait_for_timeout(300)


def measure(page, edit, *, start_event: str, start_key: str | None = None) -> dict:  # noqa: ANN001
    before = page.evaluate(HEADLINE_JS)
    page.evaluate(ARM_JS, [before, start_event, start_key])
    edit()
    result = page.evaluate("() => window.__editDone")
    settle(page)
    return result


def vgg_edits(page, widths: list[int]) -> list[dict]:  # noqa: ANN001
    """One edit per width: VGG-16 with that many channels in block 1."""
    box = page.locator("#conv-arch textarea")
    samples = []
    for width in widths:
        arch = f"((2, {width}), (2, 128), (3, 256), (3, 512), (3, 512))"
        samples.append(measure(page, lambda: box.fill(arch), start_event="input"))
    return samples


def googlenet_edits(page, values: list[int]) -> list[dict]:  # noqa: ANN001
    """One edit per value: inception 3a's ch1x1 cell (64 in the preset)."""
    cell = page.locator("#inception-table [role=gridcell]").nth(3)
    samples = []
    for value in values:
        def edit() -> None:
            page.locator("#headline").click()  # leave the table, so the double-click opens a fresh editor
            cell.dblclick()
            editor = page.locator("#inception-table textarea:focus")
            editor.fill(str(value))
            editor.press("Enter")

        samples.append(measure(page, edit, start_event="keydown", start_key="Enter"))
    return samples


def summary(name: str, samples: list[dict], *, seen: bool = False) -> dict:
    def stats(key: str) -> tuple[float, float]:
        values = sorted(sample[key] for sample in samples)
        return statistics.median(values), values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]

    update_median, update_p90 = stats("update")
    painted_median, painted_p90 = stats("painted")
    return {"edit": name, "networks": "seen" if seen else "new", "n": len(samples), "update_median_ms": update_median, "update_p90_ms": update_p90,
            "painted_median_ms": painted_median, "painted_p90_ms": painted_p90, "goal_ms": GOALS_MS[name],
            "samples_ms": [round(sample["update"], 1) for sample in samples]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=24, help="edits of each kind, each done twice (default 24)")
    parser.add_argument("--url", help="a running app; without it the script starts one")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    server, url = (None, args.url) if args.url else start_server()
    results = []
    try:
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url.rstrip("/") + "/")
            expect(page.locator("#headline")).to_contain_text("138,357,544", timeout=60_000)
            settle(page)
            # Every measured edit makes a network the server has not analysed yet ("new"); then the same edits
            # again, which the server's analysis cache answers ("seen"): the difference is the analysis's share.
            vgg_edits(page, [24, 28, 36])  # warm-up: first renders, caches of the page and the server
            widths = [40 + 4 * index for index in range(args.edits)]
            results.append(summary("vgg16 conv_arch", vgg_edits(page, widths)))
            results.append(summary("vgg16 conv_arch", vgg_edits(page, widths), seen=True))
            page.goto(url.rstrip("/") + "/?preset=googlenet")
            expect(page.locator("#headline")).to_contain_text("6,624,904", timeout=60_000)
            settle(page)
            googlenet_edits(page, [33, 34, 35])
            values = [36 + index for index in range(args.edits)]
            results.append(summary("googlenet inception cell", googlenet_edits(page, values)))
            results.append(summary("googlenet inception cell", googlenet_edits(page, values), seen=True))
            browser.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    print(f"machine: {machine()}")
    print("| edit | networks | n | update median | update p90 | painted median | painted p90 | goal (median) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in results:
        verdict = "met" if row["update_median_ms"] <= row["goal_ms"] else "missed"
        print(f"| {row['edit']} | {row['networks']} | {row['n']} | {row['update_median_ms']:.0f} ms | {row['update_p90_ms']:.0f} ms | "
              f"{row['painted_median_ms']:.0f} ms | {row['painted_p90_ms']:.0f} ms | "
              f"{row['goal_ms']:.0f} ms: {verdict} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
