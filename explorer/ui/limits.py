"""The server's limits as the UI's handlers use them: one :class:`ServerState` per process, built with the app.

Handlers call :func:`server` for the queue, the rate limiters and the disk budget, and :func:`client_of` for who
is asking. The logic itself is in :mod:`explorer.server` (no Gradio there).
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import gradio as gr
from gradio.utils import get_upload_folder

from ..server import Client, DiskBudget, LimitExceeded, RateLimiter, ServerSettings, TrainingQueue, client_address

#: Wrong Teacher passwords allowed per client before it has to wait (one more per minute).
ADMIN_ATTEMPTS = 5


@dataclass
class ServerState:
    """Everything the handlers count, for one server process."""

    settings: ServerSettings
    train_queue: TrainingQueue
    exports: RateLimiter
    admin_attempts: RateLimiter
    disk: DiskBudget

    @classmethod
    def from_settings(cls, settings: ServerSettings, *, files_root: str | Path | None = None) -> ServerState:
        root = Path(files_root) if files_root is not None else Path(get_upload_folder()).resolve() / "explorer"
        return cls(settings=settings,
                   train_queue=TrainingQueue(waiting_per_client=settings.train_waiting_per_client,
                                             max_waiting=settings.train_queue_size),
                   exports=RateLimiter(burst=settings.export_burst, every_seconds=settings.export_every_seconds),
                   admin_attempts=RateLimiter(burst=ADMIN_ATTEMPTS, every_seconds=60),
                   disk=DiskBudget(root, cap_bytes=settings.disk_cap_bytes,
                                   max_age_seconds=settings.file_max_age_seconds))


_state: ServerState | None = None


def configure(environ: Mapping[str, str] | None = None) -> ServerState:
    """Read the settings and start counting afresh (``build_app`` calls this)."""
    global _state
    _state = ServerState.from_settings(ServerSettings.from_env(environ))
    return _state


def server() -> ServerState:
    """The process's state (configured from the environment on first use)."""
    return _state if _state is not None else configure()


def client_of(request: gr.Request | None) -> Client:
    """Who sent ``request``: its address (through trusted proxies only) and its session."""
    if request is None:
        return Client(address="local", session="")
    host = getattr(getattr(request, "client", None), "host", None)
    try:
        headers = request.headers
    except AttributeError:
        headers = {}
    address = client_address(host, headers, proxy_hops=server().settings.proxy_hops)
    return Client(address=address, session=str(getattr(request, "session_hash", "") or ""))


def refusal(exc: LimitExceeded) -> gr.Error:
    """A limit's message as the user sees it."""
    return gr.Error(str(exc), title="Limit reached", print_exception=False)


def check_admin(password: str | None, request: gr.Request | None) -> None:
    """Raise ``gr.Error`` unless ``password`` is the Teacher password (wrong guesses are rate-limited)."""
    state = server()
    expected = state.settings.admin_password
    if not expected:
        raise gr.Error("The Teacher tab is off on this server.")
    client = client_of(request)
    wait = state.admin_attempts.wait_seconds(*client.keys())
    if wait > 0:
        raise gr.Error(f"Too many wrong passwords from {client.address}: try again in {wait:.0f} s.")
    if not isinstance(password, str) or not hmac.compare_digest(password.encode(), expected.encode()):
        state.admin_attempts.acquire(*client.keys())
        raise gr.Error("Wrong password.")
