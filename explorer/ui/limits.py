"""The server's limits as the UI's handlers use them: one :class:`ServerState` per process, built with the app.

Handlers call :func:`server` for the queue, the rate limiters and the disk budget, and :func:`client_of` for who
is asking. The logic itself is in :mod:`explorer.server` (no Gradio there).
"""
from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import gradio as gr
from gradio.utils import get_upload_folder

from ..server import Client, DiskBudget, LimitExceeded, RateLimiter, ServerSettings, TrainingQueue, client_address
from .i18n import wants_chinese

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


def chinese_of(request: gr.Request | None) -> bool:
    """Whether the browser that sent ``request`` puts Chinese first (refusals then read in Chinese)."""
    try:
        return wants_chinese(request.headers.get("accept-language")) if request is not None else False
    except AttributeError:
        return False


#: The refusals of :mod:`explorer.server` in Chinese, by pattern (the same numbers and addresses); a refusal that
#: matches none stays in English. ``held``/``allowed`` parts of the queue's refusal are translated first.
_REFUSALS_ZH = (
    (r"(\d+) running and (\d+) waiting", r"\1 个正在运行、\2 个在排队"),
    (r"one running and (\d+) waiting", r"一个正在运行、\1 个在排队"),
    (r"one at a time and none waiting", "同时只能有一个，且不能排队"),
    (r"You already have (\d+) waiting \(", r"You already have \1 个在排队 ("),
    (r"You already have (.+?) \(counted per computer: (.+?)\)\. Each computer may have (.+?)\. Wait for your run "
     r"to finish, or press Stop, then start again\.",
     r"你已经有训练：\1（按电脑计算：\2）。每台电脑最多：\3。请等你的训练结束，或按“停止”后再开始。"),
    (r"The training queue is full \((\d+) runs waiting\)\. Try again in a few minutes\.",
     r"训练队列已满（\1 个训练在排队）。请过几分钟再试。"),
    (r"The server's space for downloads is full: (.+?) of (.+?) are held by files made in the last (\d+) minute\(s\), "
     r"and this one needs about (.+?)\. Try again in a few minutes, or make it on your own computer with "
     r"`python -m explorer export \.\.\.`\.",
     r"服务器上用于下载的空间已满：\2 中有 \1 被最近 \3 分钟内生成的文件占用，而这个文件大约需要 \4。"
     r"请过几分钟再试，或在自己的电脑上用 `python -m explorer export ...` 生成。"),
    (r"(\d+) bytes\b", r"\1 字节"),  # format_bytes' smallest unit
)


def refusal_text(exc: LimitExceeded, *, chinese: bool = False) -> str:
    """A limit's message in the page's language: the refusal's own ``message_zh`` when it has one (set where the
    UI raises it), else the server's English message translated by pattern."""
    text = str(exc)
    if not chinese:
        return text
    own = getattr(exc, "message_zh", "")
    if own:
        return own
    for pattern, replacement in _REFUSALS_ZH:
        text = re.sub(pattern, replacement, text)
    return text


def refusal(exc: LimitExceeded, request: gr.Request | None = None, *, chinese: bool | None = None) -> gr.Error:
    """A limit's message as the user sees it, in Chinese when ``chinese`` (or, when not given, the browser that
    sent ``request``) asks for it."""
    zh = chinese_of(request) if chinese is None else chinese
    return gr.Error(refusal_text(exc, chinese=zh), title="已达上限" if zh else "Limit reached", print_exception=False)


def limit_exceeded(message: str, message_zh: str) -> LimitExceeded:
    """A refusal raised by the UI, carrying its Chinese wording for :func:`refusal`."""
    exc = LimitExceeded(message)
    exc.message_zh = message_zh  # type: ignore[attr-defined]
    return exc


def check_admin(password: str | None, request: gr.Request | None) -> None:
    """Raise ``gr.Error`` unless ``password`` is the Teacher password (wrong guesses are rate-limited)."""
    state = server()
    zh = chinese_of(request)
    expected = state.settings.admin_password
    if not expected:
        raise gr.Error("本服务器没有开启教师页。" if zh else "The Teacher tab is off on this server.")
    client = client_of(request)
    wait = state.admin_attempts.wait_seconds(*client.keys())
    if wait > 0:
        raise gr.Error(f"来自 {client.address} 的错误密码太多：请 {wait:.0f} 秒后再试。" if zh else
                       f"Too many wrong passwords from {client.address}: try again in {wait:.0f} s.")
    if not isinstance(password, str) or not hmac.compare_digest(password.encode(), expected.encode()):
        state.admin_attempts.acquire(*client.keys())
        raise gr.Error("密码错误。" if zh else "Wrong password.")
