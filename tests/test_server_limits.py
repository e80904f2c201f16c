"""The shared server's limits as pure logic (issue #14): settings from the environment, client addresses, the
rate limiter, the training queue's places per client, the disk budget; and the handlers called directly."""
from __future__ import annotations

import os
import time
from pathlib import Path

import gradio as gr
import pytest

from explorer import load_preset
from explorer.server import (Client, DiskBudget, DiskFull, LimitExceeded, RateLimiter, ServerSettings,
                             TrainingQueue, client_address, is_shared)
from explorer.server.settings import ENV_VARS


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- settings ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env, shared", [
    ({}, False), ({"GRADIO_SERVER_NAME": "127.0.0.1"}, False), ({"GRADIO_SERVER_NAME": "localhost"}, False),
    ({"GRADIO_SERVER_NAME": "::1"}, False), ({"GRADIO_SERVER_NAME": "0.0.0.0"}, True),
    ({"GRADIO_SERVER_NAME": "192.168.1.20"}, True), ({"SPACE_ID": "someone/cnn"}, True)])
def test_a_server_is_shared_when_others_can_reach_it(env: dict, shared: bool) -> None:
    assert is_shared(env) is shared


def test_shared_servers_get_shorter_runs_and_an_onnx_limit() -> None:
    local = ServerSettings.from_env({})
    lan = ServerSettings.from_env({"GRADIO_SERVER_NAME": "0.0.0.0"})
    space = ServerSettings.from_env({"SPACE_ID": "a/b"})
    assert local.max_train_seconds == 1800 and lan.max_train_seconds == 600 == space.max_train_seconds
    assert local.max_onnx_bytes is None and lan.max_onnx_bytes == 256_000_000
    assert local.proxy_hops == 0 == lan.proxy_hops and space.proxy_hops == 1  # X-Forwarded-For only on Spaces
    assert local.admin_password is None
    assert ServerSettings.from_env({"GRADIO_SERVER_NAME": "0.0.0.0", "EXPLORER_MAX_TRAIN_SECONDS": "900"}
                                   ).max_train_seconds == 900


@pytest.mark.parametrize("bad", ["", "lots", "nan", "inf"])
def test_malformed_values_fall_back_to_the_default(bad: str) -> None:
    settings = ServerSettings.from_env({"EXPLORER_DISK_CAP_MB": bad, "EXPLORER_EXPORT_BURST": bad})
    assert settings.disk_cap_bytes == 2048 * 10**6 and settings.export_burst == 6


def test_values_are_clamped_and_every_variable_is_read() -> None:
    settings = ServerSettings.from_env({"EXPLORER_MAX_TRAIN_SECONDS": "1", "EXPLORER_EXPORT_BURST": "0",
                                        "EXPLORER_FILE_MAX_AGE_SECONDS": "5"})
    assert settings.max_train_seconds == 10 and settings.export_burst == 1 and settings.file_max_age_seconds == 60
    every, age = settings.delete_cache()
    assert age == 60 and 0 < every <= age
    source = Path(__file__).resolve().parent.parent / "explorer" / "server" / "settings.py"
    assert all(source.read_text().count(f'"{var.name}"') >= 2 for var in ENV_VARS if var.name !=
               "EXPLORER_ADMIN_PASSWORD")  # declared and read


def test_every_variable_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    missing = [var.name for var in ENV_VARS if var.name not in readme]
    assert not missing, missing


# -- client addresses -------------------------------------------------------------------------------------------
def test_forwarded_addresses_are_trusted_only_behind_a_proxy() -> None:
    headers = {"x-forwarded-for": "6.6.6.6, 81.2.3.4"}  # a spoofed entry, then the proxy's
    assert client_address("10.0.0.9", headers, proxy_hops=0) == "10.0.0.9"
    assert client_address("10.0.0.9", headers, proxy_hops=1) == "81.2.3.4"
    assert client_address("10.0.0.9", headers, proxy_hops=2) == "6.6.6.6"
    assert client_address("10.0.0.9", {"x-forwarded-for": "81.2.3.4"}, proxy_hops=3) == "81.2.3.4"
    assert client_address("10.0.0.9", {"x-forwarded-for": "not-an-ip"}, proxy_hops=1) == "10.0.0.9"
    assert client_address("10.0.0.9", {}, proxy_hops=1) == "10.0.0.9"
    assert client_address(None, None) == "unknown"


# -- rate limiter -----------------------------------------------------------------------------------------------
def test_rate_limiter_allows_a_burst_then_one_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(burst=3, every_seconds=10, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.acquire("a") == pytest.approx(10)
    assert limiter.acquire("b") == 0  # another key has its own bucket
    clock.now += 5
    assert limiter.acquire("a") == pytest.approx(5)
    clock.now += 5
    assert limiter.acquire("a") == 0 and limiter.acquire("a") > 0


def test_rate_limiter_takes_from_every_key_or_none() -> None:
    clock = Clock()
    limiter = RateLimiter(burst=2, every_seconds=60, clock=clock)
    assert limiter.acquire("address:x", "session:1") == 0
    assert limiter.acquire("address:x", "session:2") == 0
    assert limiter.acquire("address:x", "session:3") > 0  # a fresh session does not help
    assert limiter.acquire("address:y", "session:1") == 0  # session 1 still had a token
    assert limiter.acquire("address:y", "session:1") > 0
    assert limiter.wait_seconds("address:y") == 0  # the refused call took nothing from y


# -- training queue ---------------------------------------------------------------------------------------------
def test_one_client_holds_at_most_one_running_and_one_waiting_place() -> None:
    queue = TrainingQueue(waiting_per_client=1, max_waiting=30)
    tickets = [queue.join(Client("10.0.0.5", f"s{index}"), kind="train", network="vgg")
               for index in range(2)]
    for index in range(2, 5):
        with pytest.raises(LimitExceeded, match="one running and 1 waiting"):
            queue.join(Client("10.0.0.5", f"s{index}"), kind="train", network="vgg")
    assert len(queue) == 2
    assert queue.try_start(tickets[0]) and not queue.try_start(tickets[1])
    other = queue.join(Client("10.0.0.6", "t"), kind="check", network="nin")  # another computer still can
    assert [view.state for view in queue.snapshot()] == ["running", "waiting", "waiting"]
    assert queue.ahead(other) == 2
    queue.leave(tickets[0])
    assert queue.try_start(tickets[1]) and not queue.try_start(other)
    with pytest.raises(LimitExceeded):  # the same session from another address counts too
        queue.join(Client("10.0.0.99", "t"), kind="train", network="nin")


def test_the_queue_has_a_total_size_and_an_idle_server_starts_at_once() -> None:
    queue = TrainingQueue(waiting_per_client=1, max_waiting=2)
    first = queue.join(Client("a", "1"), kind="train", network="x")
    assert queue.try_start(first)
    queue.join(Client("b", "2"), kind="train", network="x")
    queue.join(Client("c", "3"), kind="train", network="x")
    with pytest.raises(LimitExceeded, match="queue is full"):
        queue.join(Client("d", "4"), kind="train", network="x")


def test_teacher_stops_the_running_run_and_clears_the_waiting_ones() -> None:
    queue = TrainingQueue()
    running = queue.join(Client("a", "1"), kind="train", network="x")
    assert queue.try_start(running)
    waiting = [queue.join(Client(name, name), kind="train", network="x") for name in "bcd"]
    assert queue.stop_running() == 1 and running.stop_requested
    assert queue.clear_waiting() == 3
    assert all(ticket.removed and not queue.try_start(ticket) for ticket in waiting)
    assert [view.state for view in queue.snapshot()] == ["running"]


# -- disk budget ------------------------------------------------------------------------------------------------
def write(folder: Path, size: int) -> None:
    (folder / "file.bin").write_bytes(b"x" * size)


def test_disk_budget_refuses_past_the_cap_then_evicts_old_files(tmp_path: Path) -> None:
    clock = Clock(time.time())
    budget = DiskBudget(tmp_path / "explorer", cap_bytes=10_000, max_age_seconds=3600, grace_seconds=600,
                        clock=clock)
    for _ in range(3):
        folder = budget.new_folder("exports")
        with budget.reserve(3_000, folder):
            write(folder, 3_000)
    assert budget.used_bytes() == 9_000
    folder = budget.new_folder("exports")
    with pytest.raises(DiskFull, match="space for downloads is full"):
        with budget.reserve(3_000, folder):
            pytest.fail("reserved past the cap")
    clock.now += 601  # past the grace period: the oldest files make room
    with budget.reserve(3_000, folder):
        write(folder, 3_000)
    assert budget.used_bytes() <= 10_000
    clock.now += 3601  # past the maximum age: everything goes
    assert budget.prune() > 0 and budget.used_bytes() == 0


def test_disk_budget_counts_files_being_written(tmp_path: Path) -> None:
    budget = DiskBudget(tmp_path, cap_bytes=10_000, max_age_seconds=3600)
    first, second = budget.new_folder("checkpoints"), budget.new_folder("exports")
    assert len(first.name) == 64 and first.parent.name == "checkpoints"
    with budget.reserve(8_000, first):
        assert budget.used_bytes() == 8_000
        with pytest.raises(DiskFull):
            with budget.reserve(3_000, second):
                pass
    assert budget.used_bytes() == 0  # nothing was written
    budget.remove(first)
    assert not first.exists()
    budget.remove(tmp_path.parent)  # outside the root: ignored
    assert tmp_path.exists()


# -- handlers called directly (no server) -----------------------------------------------------------------------
@pytest.fixture()
def server_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    from explorer.ui import limits

    def configure(**env: str):  # noqa: ANN202
        settings = ServerSettings.from_env({key: str(value) for key, value in env.items()})
        state = limits.ServerState.from_settings(settings, files_root=tmp_path / "files")
        monkeypatch.setattr(limits, "_state", state)
        return state

    return configure


def test_export_refuses_an_onnx_file_over_the_limit_before_writing(server_state) -> None:
    from explorer.ui.explore import export_file_for, export_info_markdown

    state = server_state(EXPLORER_MAX_ONNX_MB="256")
    vgg16 = load_preset("vgg16")
    info = export_info_markdown(vgg16, "ONNX (.onnx)")
    assert "553 MB" in info and "256 MB" in info and "EXPLORER_MAX_ONNX_MB" in info
    assert "random initialisation" in info  # the export's notes
    assert "⛔" not in export_info_markdown(vgg16, "PyTorch (.py)")
    started = time.perf_counter()
    with pytest.raises(gr.Error, match="over this server's limit"):
        export_file_for("ONNX (.onnx)", vgg16)
    assert time.perf_counter() - started < 5  # refused from the estimate, not after exporting
    assert state.disk.used_bytes() == 0 and not any(state.disk.root.rglob("*.onnx"))


def test_export_writes_one_copy_in_its_own_folder_and_is_rate_limited(server_state) -> None:
    from explorer.ui.explore import export_file_for

    state = server_state(EXPLORER_EXPORT_BURST="2", EXPLORER_EXPORT_EVERY_SECONDS="600")
    spec = load_preset("d2l_nin")
    paths = [Path(export_file_for(kind, spec)) for kind in ("JSON spec (.json)", "PyTorch (.py)")]
    assert all(path.is_file() and path.parent.parent == state.disk.root / "exports" for path in paths)
    with pytest.raises(gr.Error, match="Too many exports"):
        export_file_for("JSON spec (.json)", spec)
    assert len(list(state.disk.root.rglob("*.*"))) == 2  # the refused export left nothing behind
    assert len(list((state.disk.root / "exports").iterdir())) == 2


def test_export_refuses_when_the_disk_cap_is_reached(server_state) -> None:
    from explorer.ui.explore import export_file_for

    state = server_state(EXPLORER_DISK_CAP_MB="0.03", EXPLORER_EXPORT_BURST="100")  # 30 kB
    spec = load_preset("d2l_nin")
    made = 0
    with pytest.raises(gr.Error, match="space for downloads is full"):
        for _ in range(10):
            export_file_for("PyTorch (.py)", spec)  # about 10 kB each
            made += 1
    assert 1 <= made <= 3 and state.disk.used_bytes() <= 30_000


def test_teacher_handlers_check_the_password(server_state, monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.ui import limits

    server_state(EXPLORER_ADMIN_PASSWORD="sesame")
    limits.check_admin("sesame", None)
    for _ in range(limits.ADMIN_ATTEMPTS):
        with pytest.raises(gr.Error, match="Wrong password"):
            limits.check_admin("guess", None)
    with pytest.raises(gr.Error, match="Too many wrong passwords"):
        limits.check_admin("sesame", None)  # locked out for a while, even with the right one
    server_state()
    with pytest.raises(gr.Error, match="off on this server"):
        limits.check_admin("", None)


def test_no_password_no_teacher_tab(monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.ui.app import build_app

    monkeypatch.delenv("EXPLORER_ADMIN_PASSWORD", raising=False)
    names = {fn.api_name for fn in build_app().fns.values()}
    assert not any(str(name).startswith("admin") for name in names)
    monkeypatch.setenv("EXPLORER_ADMIN_PASSWORD", "sesame")
    names = {fn.api_name for fn in build_app().fns.values()}
    assert {"admin_show", "admin_stop", "admin_clear"} <= names


def test_the_app_sets_gradio_delete_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.ui.app import build_app

    monkeypatch.setenv("EXPLORER_FILE_MAX_AGE_SECONDS", "900")
    assert build_app().delete_cache == (225, 900)
    assert os.environ["EXPLORER_FILE_MAX_AGE_SECONDS"] == "900"
