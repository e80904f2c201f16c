"""The app under faults and load (issue #6): injected out-of-memory, Stop mid-epoch, a closed browser tab, NVML
failing mid-run, a dataset that cannot be downloaded, a second user's run waiting, and 20 sessions editing while a
run trains. The server must keep serving, release memory, and tell the user what happened."""
from __future__ import annotations

import gc
import statistics
import threading
import time
from typing import Any

import gradio as gr
import pytest
import torch
from gradio_client import Client

import explorer.ui.explore as explore_module
import explorer.ui.train_panel as train_panel
from explorer.training import RunHooks
from explorer.training import train as real_train
from explorer.ui.app import analyze_api
from tests.browser import ARTIFACTS, start_app

TINY = dict(dataset="shapes", epochs=1, batch_size=16, lr=1e-3, optimizer="adam", precision="fp32", device="cpu",
            input_size=32, train_subset=96)
ORDER = ["dataset", "epochs", "batch_size", "lr", "optimizer", "precision", "device", "input_size", "train_subset"]


class Recorder:
    """Wraps the engine: injects faults through its hooks and records cleanup (memory released)."""

    def __init__(self) -> None:
        self.cleanups = 0
        self.fail_at_step: int | None = None
        self.step_delay = 0.0
        self.models: list[Any] = []
        self.steps = 0

    def train(self, spec, config, hooks=None):  # noqa: ANN001, ANN201
        def on_step(step: int) -> None:
            self.steps = step
            if self.step_delay:
                time.sleep(self.step_delay)
            if self.fail_at_step is not None and step >= self.fail_at_step:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")

        def on_cleanup() -> None:
            self.cleanups += 1

        hooks = RunHooks(on_model=lambda model: self.models.append(model), on_step=on_step, on_cleanup=on_cleanup)
        return real_train(spec, config, hooks=hooks)


@pytest.fixture(scope="module")
def shared_recorder() -> Recorder:
    return Recorder()


@pytest.fixture()
def recorder(shared_recorder: Recorder) -> Recorder:
    shared_recorder.steps = 0
    shared_recorder.step_delay = 0.0
    shared_recorder.fail_at_step = None
    return shared_recorder


@pytest.fixture(scope="module")
def app(shared_recorder):
    patch = pytest.MonkeyPatch()
    patch.setattr(explore_module, "DEFAULT_PRESET", "d2l_vgg11_small")  # what an API client's session trains
    patch.setattr(train_panel, "train", shared_recorder.train)
    demo, url = start_app()
    yield url
    demo.close()
    patch.undo()


def settings(**changes: Any) -> list[Any]:
    values = {**TINY, **changes}
    return [values[name] for name in ORDER]


def wait_for(predicate, timeout: float = 60.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_injected_out_of_memory_ends_the_run_with_a_message(app, recorder):
    client = Client(app, verbose=False, analytics_enabled=False)
    recorder.fail_at_step, before = 2, recorder.cleanups
    try:  # no error: the status line says what happened and what to try
        result = client.predict(*settings(), api_name="/train")
    finally:
        recorder.fail_at_step = None
    assert "out of memory" in result[0].lower() and "smaller batch size" in result[0]
    assert wait_for(lambda: recorder.cleanups == before + 1, 10)
    assert client.predict("vgg11", api_name="/analyze")["analysis"]["total_params"] == 132_863_336


def test_stop_mid_epoch_frees_the_run_and_the_next_run_works(app, recorder):
    client = Client(app, verbose=False, analytics_enabled=False)
    recorder.step_delay, before = 0.3, recorder.cleanups
    try:
        job = client.submit(*settings(epochs=20, train_subset=512), api_name="/train")
        assert wait_for(lambda: recorder.steps >= 2, 60), "training never started"
        job.cancel()
        assert wait_for(lambda: recorder.cleanups == before + 1, 15), "Stop did not end the run"
    finally:
        recorder.step_delay = 0.0
    model_ref = __import__("weakref").ref(recorder.models[-1])
    recorder.models.clear()
    gc.collect()
    assert model_ref() is None, "the stopped run's model is still referenced"
    result = client.predict(*settings(), api_name="/train")
    assert "test accuracy" in result[0]


def test_a_second_users_run_waits_in_the_queue(app, recorder):
    first, second = (Client(app, verbose=False, analytics_enabled=False) for _ in range(2))
    recorder.step_delay = 0.2
    job1 = job2 = None
    try:
        job1 = first.submit(*settings(epochs=5, train_subset=256), api_name="/train")
        assert wait_for(lambda: recorder.steps >= 1, 60)
        job2 = second.submit(*settings(), api_name="/train")
        # The app keeps its own queue (a waiting run holds no worker) and says where the run stands.
        assert wait_for(lambda: any("Waiting for the device" in str(output) for output in job2.outputs()), 15), \
            job2.outputs()
        # cheap handlers still answer while a run trains and another waits
        assert second.predict("googlenet", api_name="/analyze")["analysis"]["total_params"] == 6_624_904
        job1.cancel()
        recorder.step_delay = 0.0
        assert "test accuracy" in job2.result(timeout=120)[0]
    finally:
        recorder.step_delay = 0.0
        for job in (job1, job2):  # free this address's places in the queue for the tests after this one
            if job is not None and not job.done():
                job.cancel()


def test_dataset_download_failure_offers_the_built_in_dataset(app, monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path))  # nothing on disk, and no internet here
    from explorer.training import data

    monkeypatch.setattr(data, "unreachable_reason", lambda hosts, timeout=5.0: "network is unreachable (injected)")
    client = Client(app, verbose=False, analytics_enabled=False)
    result = client.predict(*settings(dataset="fashion-mnist"), api_name="/train")  # the status line says why
    assert "The dataset could not be loaded" in result[0] and "shapes" in result[0]
    assert client.predict("alexnet", api_name="/analyze")["analysis"]["total_params"] == 61_100_840


def test_nvml_failing_mid_run_does_not_break_training(app, recorder, monkeypatch):
    from explorer import gpu

    class FailingSampler:
        calls = 0

        def history(self, seconds=None):  # noqa: ANN001
            FailingSampler.calls += 1
            raise RuntimeError("NVML: GPU is lost (injected)")

        def latest(self):
            raise RuntimeError("NVML: GPU is lost (injected)")

    monkeypatch.setattr(gpu, "get_sampler", lambda: FailingSampler())
    client = Client(app, verbose=False, analytics_enabled=False)
    result = client.predict(*settings(), api_name="/train")
    assert "test accuracy" in result[0]


def test_twenty_sessions_edit_while_a_run_trains(app, recorder):
    """Issue #6 item 5: 20 concurrent sessions x 25 edits on /analyze, one training job running."""
    from benchmarks.load import run_load, run_load_browser_like

    trainer = Client(app, verbose=False, analytics_enabled=False)
    job = trainer.submit(*settings(epochs=6, train_subset=1024, batch_size=32), api_name="/train")
    assert wait_for(lambda: recorder.steps >= 1, 60)
    lines = []
    for kind, runner in (("gradio_client", run_load), ("browser-like", run_load_browser_like)):
        result = runner(app, clients=20, edits=25)
        assert not result.failures, result.failures[:3]
        assert not result.mismatches, result.mismatches[:3]  # no session saw another's reply
        assert len(result.latencies_ms) == 500
        lines.append(f"{kind}: 20 sessions x 25 edits, p50 {statistics.median(result.latencies_ms):.0f} ms, "
                     f"p95 {result.percentile(0.95):.0f} ms, {len(result.failures)} failed")
    training_was_running = not job.done()
    job.cancel()
    lines.append(f"training still running at the end: {training_was_running}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.txt").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))
