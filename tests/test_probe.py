"""Acting like the probe of issue #14: raw ``queue/join`` calls (fn_index from ``/config``, a fresh session_hash
each time) against a server started here on 127.0.0.1. Private and undocumented events still hit their limits;
five training joins from one client hold at most two places; exports keep the disk under the cap with one copy
per file; cancelled runs leave no checkpoint; the teacher sees, stops and clears the queue."""
from __future__ import annotations

import json
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import explorer.ui.explore as explore_module
import explorer.ui.train_panel as train_panel
from explorer.server import ServerSettings
from explorer.ui import limits
from tests.browser import start_app

PASSWORD = "open sesame"
#: Train inputs after the two State ones (spec, recipe kind), whose values come from the session, not the call.
TINY = ["shapes", 1, 16, 1e-3, "adam", "fp32", "cpu", 32, 96]


class RawClient:
    """What a script does: POST queue/join with any fn_index and session_hash, then read the event stream."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=120)
        self.config = self.http.get(url + "config").json()

    def fn_index(self, api_name: str) -> int:
        return next(dep["id"] for dep in self.config["dependencies"] if dep.get("api_name") == api_name)

    def join(self, api_name: str, data: list[Any], *, session: str | None = None,
             forwarded_for: str | None = None) -> tuple[str, str]:
        """Returns (session_hash, event_id)."""
        session = session or uuid.uuid4().hex[:11]
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        reply = self.http.post(self.url + "gradio_api/queue/join", headers=headers, json={
            "data": data, "event_data": None, "fn_index": self.fn_index(api_name), "trigger_id": None,
            "session_hash": session})
        reply.raise_for_status()
        return session, reply.json()["event_id"]

    def messages(self, session: str, timeout: float = 120) -> Iterator[dict]:
        with self.http.stream("GET", self.url + "gradio_api/queue/data", params={"session_hash": session},
                              timeout=timeout) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    yield message
                    if message.get("msg") in ("process_completed", "close_stream"):
                        return

    def result(self, session: str, timeout: float = 120) -> tuple[bool, Any]:
        """(success, output data or error message) of the session's one event."""
        for message in self.messages(session, timeout):
            if message.get("msg") == "process_completed":
                output = message.get("output") or {}
                if message.get("success"):
                    return True, output.get("data")
                return False, str(output.get("error") or output)
        raise AssertionError("the stream closed without a result")

    def call(self, api_name: str, data: list[Any], **options: Any) -> tuple[bool, Any]:
        session, _ = self.join(api_name, data, **options)
        return self.result(session)

    def cancel(self, api_name: str, session: str, event_id: str) -> None:
        self.http.post(self.url + "gradio_api/cancel", json={
            "session_hash": session, "fn_index": self.fn_index(api_name), "event_id": event_id}).raise_for_status()


class Collector(threading.Thread):
    """Reads one session's stream in the background; ``done`` is set at its end."""

    def __init__(self, client: RawClient, session: str) -> None:
        super().__init__(daemon=True)
        self.client, self.session = client, session
        self.messages: list[dict] = []
        self.done = threading.Event()
        self.start()

    def run(self) -> None:
        try:
            for message in self.client.messages(self.session):
                self.messages.append(message)
        finally:
            self.done.set()

    def outcome(self) -> tuple[bool, str]:
        final = next(message for message in self.messages if message.get("msg") == "process_completed")
        output = final.get("output") or {}
        return bool(final.get("success")), json.dumps(output.get("error") or output.get("data"))

    def statuses(self) -> list[str]:
        texts = []
        for message in self.messages:
            data = (message.get("output") or {}).get("data") or []
            if data and isinstance(data[0], str):
                texts.append(data[0])
        return texts


class FakeRuns:
    """Stands in for start_training: each run writes a checkpoint file at once, then streams until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = 0
        self.closed = 0
        self.folders: list[Path] = []

    def __call__(self, *settings: Any, checkpoint_dir: str | None = None, save_checkpoint: bool = True,
                 zh: bool = False):
        self.started += 1
        folder = Path(checkpoint_dir)
        self.folders.append(folder)
        (folder / "partial.pt").write_bytes(b"w" * 1000)  # as an engine that saves early would
        try:
            yield ("Training (fake)...", None, "", None, None, None, None)
            while not self.release.wait(0.05):
                yield ("Training (fake)...", None, "", None, None, None, None)
            yield ("Done (fake): test accuracy 0.5", None, "| results |", None, None, None,
                   str(folder / "partial.pt"))
        finally:
            self.closed += 1


def wait_for(predicate, timeout: float = 30.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    cache = tmp_path_factory.mktemp("gradio-cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("GRADIO_TEMP_DIR", str(cache))  # Gradio's cache and the app's files: only this test's
    patch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    patch.setenv("EXPLORER_ADMIN_PASSWORD", PASSWORD)
    patch.setattr(explore_module, "DEFAULT_PRESET", "d2l_vgg11_small")  # what a fresh session holds
    demo, url = start_app()
    yield url, cache
    demo.close()
    patch.undo()


@pytest.fixture()
def app(served: tuple[str, Path], monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """The served app with fresh limits from ``settings(**env)``; a fake training run unless a test says not."""
    url, cache = served
    fake = FakeRuns()
    monkeypatch.setattr(train_panel, "start_training", fake)

    def settings(**env: str) -> limits.ServerState:
        values = {"EXPLORER_ADMIN_PASSWORD": PASSWORD, **{key: str(value) for key, value in env.items()}}
        state = limits.ServerState.from_settings(ServerSettings.from_env(values))
        monkeypatch.setattr(limits, "_state", state)
        return state

    state = settings()
    yield RawClient(url), settings, fake, cache, state
    fake.release.set()
    assert wait_for(lambda: len(limits.server().train_queue) == 0, 30), "a run was left in the queue"


def test_five_training_joins_from_one_client_hold_at_most_two_places(app) -> None:
    client, settings, fake, _, _ = app
    state = settings()
    joins = [client.join("train", [None, None, *TINY]) for _ in range(5)]  # five fresh sessions, one address
    streams = [Collector(client, session) for session, _ in joins]
    assert wait_for(lambda: sum(stream.done.is_set() for stream in streams) >= 3, 30)
    ended = [stream for stream in streams if stream.done.is_set()]
    assert len(ended) == 3 and fake.started == 1  # three ended while the first run still trains
    for stream in ended:
        success, message = stream.outcome()
        assert not success and "Each computer may have one running and 1 waiting" in message, message
    views = state.train_queue.snapshot()
    assert [view.state for view in views] == ["running", "waiting"]
    assert all(view.client.startswith("127.0.0.1") for view in views)
    waiting = next(stream for stream in streams if not stream.done.is_set() and fake.started == 1
                   and any("Waiting for the device" in text for text in stream.statuses()))
    fake.release.set()
    assert all(stream.done.wait(60) for stream in streams)
    assert waiting.outcome()[0] and fake.started == 2 and fake.closed == 2


def test_private_and_undocumented_events_hit_their_limits(app) -> None:
    client, settings, fake, _, _ = app
    settings(EXPLORER_MAX_ONNX_MB="10", EXPLORER_EXPORT_BURST="2", EXPLORER_EXPORT_EVERY_SECONDS="600")
    # export_file is private: joining it directly still meets the ONNX size limit (the VGG's file: ~172 MB) ...
    success, message = client.call("export_file", ["ONNX (.onnx)", None])
    assert not success and "over this server's limit of 10 MB" in message
    # ... and the rate limit, whatever the session
    assert client.call("export_file", ["JSON spec (.json)", None])[0]
    assert client.call("export_file", ["JSON spec (.json)", None])[0]
    success, message = client.call("export_file", ["JSON spec (.json)", None])
    assert not success and "Too many exports from 127.0.0.1" in message
    # check_run (private) counts with the training runs (train is undocumented)
    first = Collector(client, client.join("train", [None, None, *TINY])[0])
    assert wait_for(lambda: fake.started == 1)
    second = Collector(client, client.join("check_run", [None, None, *TINY])[0])
    assert wait_for(lambda: len(limits.server().train_queue) == 2)
    success, message = client.call("check_run", [None, None, *TINY])
    assert not success and "Each computer may have" in message
    # the Teacher's events refuse without the password
    success, message = client.call("admin_clear", ["guess"])
    assert not success and "Wrong password" in message and len(limits.server().train_queue) == 2
    fake.release.set()
    assert first.done.wait(60) and second.done.wait(120)


def test_other_computers_behind_a_trusted_proxy_get_their_own_places(app) -> None:
    client, settings, fake, _, _ = app
    state = settings(EXPLORER_PROXY_HOPS="1")
    streams = [Collector(client, client.join("train", [None, None, *TINY], forwarded_for=f"9.9.9.9, 10.1.0.{n}")[0])
               for n in range(4)]  # the left entries are the clients' own say and are ignored
    assert wait_for(lambda: len(state.train_queue) == 4)
    assert sorted(view.client.split(" ")[0] for view in state.train_queue.snapshot()) == [
        f"10.1.0.{n}" for n in range(4)]
    # a second waiting run from a computer that already has one is refused, whatever it says on the left
    success, message = client.call("train", [None, None, *TINY], forwarded_for="10.1.0.0, 10.1.0.1")
    assert not success and "counted per computer: 10.1.0.1" in message
    fake.release.set()
    assert all(stream.done.wait(60) for stream in streams)


def test_repeated_exports_keep_the_disk_under_the_cap_with_one_copy_each(app) -> None:
    client, settings, _, cache, _ = app
    state = settings(EXPLORER_DISK_CAP_MB="0.05", EXPLORER_EXPORT_BURST="100")  # 50 kB; ~11 kB per .py file
    before = set(Path(tempfile.gettempdir()).glob("explorer-export-*"))
    existing = set(cache.rglob("*.py"))
    outcomes = [client.call("export_file", ["PyTorch (.py)", None]) for _ in range(8)]
    made = [data[0] for success, data in outcomes if success]
    refused = [data for success, data in outcomes if not success]
    assert 2 <= len(made) <= 5 and refused and all("space for downloads is full" in text for text in refused)
    assert state.disk.used_bytes() <= 50_000
    copies = [path for path in cache.rglob("*.py") if path not in existing]
    assert len(copies) == len(made)  # one copy per export: Gradio serves the file where it was written
    assert sum(path.stat().st_size for path in copies) <= 50_000
    assert set(Path(tempfile.gettempdir()).glob("explorer-export-*")) == before  # no temp folders left
    served = made[0]
    assert len(Path(served["path"]).parent.name) == 64
    assert client.http.get(client.url + served["url"].split("/", 3)[3]).text.startswith('"""')


def test_a_cancelled_run_leaves_no_checkpoint_and_a_finished_one_is_offered_to_its_session(app) -> None:
    client, settings, fake, cache, _ = app
    settings()
    session, event_id = client.join("train", [None, None, *TINY])
    stream = Collector(client, session)
    assert wait_for(lambda: fake.started == 1 and fake.folders[0].joinpath("partial.pt").exists())
    client.cancel("train", session, event_id)
    assert stream.done.wait(30)
    assert wait_for(lambda: fake.closed == 1) and not fake.folders[0].exists()
    fake.release.set()
    session, _ = client.join("train", [None, None, *TINY])
    success, data = client.result(session)
    assert success and data[6]["path"].startswith(str(fake.folders[1]))  # the file itself, not a copy
    assert fake.folders[1].joinpath("partial.pt").exists()
    assert [path for path in cache.rglob("partial.pt") if limits.server().disk.root not in path.parents] == []


def test_the_teacher_sees_stops_and_clears_the_queue(app) -> None:
    client, settings, fake, _, _ = app
    settings(EXPLORER_PROXY_HOPS="1")
    running = Collector(client, client.join("train", [None, None, *TINY], forwarded_for="10.2.0.1")[0])
    assert wait_for(lambda: fake.started == 1)
    waiting = [Collector(client, client.join("train", [None, None, *TINY], forwarded_for=f"10.2.0.{n}")[0])
               for n in (2, 3)]
    assert wait_for(lambda: len(limits.server().train_queue) == 3)
    success, data = client.call("admin_show", [PASSWORD])
    assert success
    rows = data[0]["data"]
    assert [row[1] for row in rows] == ["running", "waiting", "waiting"]
    assert rows[0][2].startswith("10.2.0.1 / ") and "VGG" in rows[0][4]
    assert client.call("admin_clear", [PASSWORD])[0]
    assert all(stream.done.wait(30) for stream in waiting)
    assert all("Removed from the queue by the teacher" in stream.statuses()[-1] for stream in waiting)
    assert client.call("admin_stop", [PASSWORD])[0]
    assert running.done.wait(30) and "Stopped by the teacher" in running.statuses()[-1]
    assert fake.closed == 1 and not fake.folders[0].exists()  # stopped: no checkpoint kept


def test_a_real_tiny_run_through_the_queue(app, monkeypatch: pytest.MonkeyPatch) -> None:
    client, settings, _, cache, _ = app
    monkeypatch.undo()  # the real start_training
    settings()
    success, data = client.call("train", [None, None, *TINY])
    assert success and "test accuracy" in data[0]
    checkpoint = Path(data[6]["path"])
    assert checkpoint.is_file() and checkpoint.parent.parent == limits.server().disk.root / "checkpoints"
    assert [path for path in cache.rglob(checkpoint.name) if path != checkpoint] == []  # Gradio made no copy
