"""Shared helpers for the browser tests: an in-process app server and Debian's Chromium driven by Playwright."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("Debian's chromium is required for the browser tests: apt-get install -y chromium")
    return path


def launch_browser(playwright):  # noqa: ANN001, ANN201
    args = ["--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-quic"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=args)


def start_app():  # noqa: ANN201
    """Build the app and serve it on 127.0.0.1 (a free port); returns (demo, url). Call demo.close() after."""
    from explorer.ui.app import build_app, launch_options

    demo = build_app()
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True,
                            **launch_options())
    return demo, url.rstrip("/") + "/"


def open_tab(page, name: str) -> None:  # noqa: ANN001
    """Click a top-level tab; on a narrow screen it sits in Gradio's "More tabs" menu."""
    tab = page.get_by_role("tab", name=name, exact=True)
    if tab.count() == 0 or not tab.first.is_visible():
        page.get_by_role("button", name="More tabs").first.click()
        page.locator(".overflow-dropdown button", has_text=name).first.click()
    else:
        tab.first.click()
