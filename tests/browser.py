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
