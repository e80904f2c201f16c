"""Server-side bounds on one run: the wall-time limit, and ZeroGPU's duration request."""
from __future__ import annotations

import importlib
import sys
import time
import types
from pathlib import Path

import pytest

from explorer import load_preset
from explorer.training import DoneEvent, RunHooks, TrainConfig, train
from explorer.specs import SpecError


def test_max_seconds_stops_training_and_still_evaluates(tmp_path: Path) -> None:
    spec = load_preset("d2l_vgg11_small").replace(input_size=32)
    config = TrainConfig(dataset="shapes", epochs=50, batch_size=16, train_subset=64, test_subset=32, device="cpu",
                         checkpoint_dir=str(tmp_path), max_seconds=1.0)
    slow = RunHooks(on_step=lambda step: time.sleep(0.3))  # each step takes at least 0.3 s
    events = list(train(spec, config, hooks=slow))
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.stopped_early and done.epochs_completed < 50
    assert done.steps <= 8  # about 1 s of 0.3 s steps, plus the step in flight
    assert any("time limit" in note for note in done.notes)
    assert 0.0 <= done.test_acc <= 1.0


@pytest.mark.parametrize("bad", [0.0, -5, float("nan"), True, "60"])
def test_max_seconds_is_validated(bad) -> None:
    with pytest.raises(SpecError, match="max_seconds"):
        TrainConfig(max_seconds=bad)


def test_app_runs_are_bounded_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.ui import train_panel

    monkeypatch.setenv("EXPLORER_MAX_TRAIN_SECONDS", "120")
    spec_dict = load_preset("d2l_nin").to_dict()
    _, config = train_panel.config_from_widgets(spec_dict, "short", "shapes", 1, 32, 1e-3, "adam", "fp32", "cpu",
                                                0, 0)
    assert config.max_seconds == 120
    monkeypatch.setenv("EXPLORER_MAX_TRAIN_SECONDS", "not a number")
    assert train_panel.max_train_seconds() == 1800.0


def test_zerogpu_wraps_training_with_a_bounded_duration(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: dict = {}

    def gpu(duration):
        def decorate(function):
            def wrapped(*args, **kwargs):
                calls["duration"] = duration(*args, **kwargs)
                return function(*args, **kwargs)
            return wrapped
        return decorate

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=gpu))
    from explorer.ui import zerogpu

    reloaded = importlib.reload(zerogpu)
    try:
        assert reloaded.on_zerogpu()
        task = reloaded.gpu_task(lambda *args: "ran", duration=lambda *args: 10_000)
        assert task(1, 2) == "ran" and calls["duration"] == reloaded.MAX_GPU_SECONDS
        task = reloaded.gpu_task(lambda *args: "ran", duration=lambda *args: 1 / 0)
        assert task() == "ran" and calls["duration"] == reloaded.MAX_GPU_SECONDS
        task = reloaded.gpu_task(lambda *args: "ran", duration=lambda *args: 1)
        assert task() == "ran" and calls["duration"] == reloaded.MIN_GPU_SECONDS
    finally:
        monkeypatch.delitem(sys.modules, "spaces")
        importlib.reload(zerogpu)
    assert not zerogpu.on_zerogpu()
    plain = lambda: "same"  # noqa: E731
    assert zerogpu.gpu_task(plain, duration=lambda: 1) is plain


def test_gpu_seconds_grow_with_epochs() -> None:
    from explorer.ui import train_panel

    spec_dict = load_preset("d2l_nin").to_dict()
    short = train_panel.gpu_seconds(spec_dict, "short", "shapes", 1, 32, 1e-3, "adam", "fp32", "cpu", 0, 0)
    long = train_panel.gpu_seconds(spec_dict, "short", "shapes", 8, 32, 1e-3, "adam", "fp32", "cpu", 0, 0)
    assert long > short > 0
    assert train_panel.gpu_seconds(None, "short", "shapes", 1, 32, 1e-3, "adam", "fp32", "cpu", 0, 0) == 120
