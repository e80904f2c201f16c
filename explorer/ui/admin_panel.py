"""The Teacher tab: the training queue (who, what, how long), stop the current run, clear the queue.

It exists only when ``EXPLORER_ADMIN_PASSWORD`` is set. Every handler takes the password and checks it itself
(private events can be called directly), and wrong guesses are rate-limited per client.
"""
from __future__ import annotations

from typing import Any

import gradio as gr

from . import limits
from .i18n import tr

HEADERS = ["place", "state", "client (address / session)", "what", "network", "for (m:ss)"]
#: Seconds between refreshes of the queue table once the tab is unlocked.
REFRESH_SECONDS = 2.0


def queue_rows() -> list[list[Any]]:
    """The queue as table rows: the running run first, then the waiting ones."""
    rows = []
    for view in limits.server().train_queue.snapshot():
        minutes, seconds = divmod(int(view.seconds), 60)
        rows.append([view.place if view.place else "-", view.state, view.client,
                     "training run" if view.kind == "train" else "memory and time check", view.network,
                     f"{minutes}:{seconds:02d}"])
    return rows


def status_markdown(note: str = "") -> str:
    state = limits.server()
    settings = "; ".join(f"{name}: {value}" for name, value in state.settings.summary_rows())
    views = state.train_queue.snapshot()
    running = sum(view.state == "running" for view in views)
    text = (f"**{running} running, {len(views) - running} waiting.** Files held for download: "
            f"{state.disk.usage_line()}.\n\n<small>{settings}</small>")
    return f"{note}\n\n{text}" if note else text


def build_admin_panel() -> None:
    """Build the tab's contents (the caller creates the tab only when a password is set)."""
    gr.Markdown(tr("Enter the teacher password to see the training queue, stop the current run or clear the queue."))
    with gr.Row():
        password = gr.Textbox(label=tr("Teacher password"), type="password", scale=3, elem_id="admin-password")
        unlock = gr.Button(tr("Show the queue"), scale=1, elem_id="admin-unlock")
    status = gr.Markdown("", elem_id="admin-status")
    table = gr.Dataframe(headers=HEADERS, value=[], interactive=False, elem_id="admin-queue", type="array")
    with gr.Row():
        stop = gr.Button(tr("Stop the current run"), variant="stop", elem_id="admin-stop")
        clear = gr.Button(tr("Clear the queue"), elem_id="admin-clear")
    timer = gr.Timer(REFRESH_SECONDS, active=False)

    def show(password: str, request: gr.Request = None) -> tuple[Any, str, Any]:
        limits.check_admin(password, request)
        return queue_rows(), status_markdown(), gr.Timer(active=True)

    def refresh(password: str, request: gr.Request = None) -> tuple[Any, str]:
        limits.check_admin(password, request)
        return queue_rows(), status_markdown()

    def stop_run(password: str, request: gr.Request = None) -> tuple[Any, str]:
        limits.check_admin(password, request)
        count = limits.server().train_queue.stop_running()
        note = "Asked the running run to stop; it ends at its next update." if count else "Nothing is running."
        return queue_rows(), status_markdown(note)

    def clear_queue(password: str, request: gr.Request = None) -> tuple[Any, str]:
        limits.check_admin(password, request)
        count = limits.server().train_queue.clear_waiting()
        return queue_rows(), status_markdown(f"Removed {count} waiting run{'s' if count != 1 else ''}.")

    options: dict[str, Any] = dict(concurrency_limit=None, api_visibility="private", show_progress="hidden")
    unlock.click(show, password, [table, status, timer], api_name="admin_show", **options)
    password.submit(show, password, [table, status, timer], **options)
    timer.tick(refresh, password, [table, status], api_name="admin_refresh", **options)
    stop.click(stop_run, password, [table, status], api_name="admin_stop", **options)
    clear.click(clear_queue, password, [table, status], api_name="admin_clear", **options)
