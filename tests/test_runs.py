"""Runs (#13): records from real training events, the JSON/zip round trip, bad run files, the table and the
differences; the Runs tab's helpers; the Train tab recording a finished run for its session; d2l's comparison
trained through the Train tab's queued handler."""
from __future__ import annotations

import asyncio
import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import plotly.graph_objects as go
import pytest

from explorer import load_preset
from explorer.runs import (FINISHED, RUN_FILE, FinishedRuns, RunRecord, differences, export_run, read_run,
                           runs_table, runs_zip, save_run)
from explorer.specs import SpecError
from explorer.training.config import TrainConfig
from explorer.training.engine import train
from explorer.ui import limits, runs_panel, train_panel

TINY = load_preset("d2l_vgg11_small").replace(input_size=32, ratio=16, hidden_sizes=(32,), dropout=0.0)


def _run(folder: Path, *, epochs: int = 2, lr: float = 1e-3, label: str = "tiny") -> RunRecord:
    config = TrainConfig(dataset="shapes", epochs=epochs, train_subset=256, test_subset=64, batch_size=64,
                         device="cpu", precision="fp32", checkpoint_dir=str(folder), log_every=2, lr=lr)
    events = list(train(TINY, config))
    start, done = events[0], events[-1]
    assert done.event == "done", getattr(done, "message", done)
    history = [event.to_dict() for event in events[1:-1]]
    return RunRecord.from_events(TINY, config, start, history, done, label=label)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> list[RunRecord]:
    folder = tmp_path_factory.mktemp("runs")
    return [_run(folder, epochs=2, label="adam 1e-3"), _run(folder, epochs=1, lr=3e-3, label="adam 3e-3")]


def test_record_from_events(two_runs: list[RunRecord]) -> None:
    record = two_runs[0]
    assert record.family == "vgg" and record.dataset == "shapes" and record.epochs == 2
    assert record.curves["epoch"] == [1.0, 2.0] and len(record.curves["test_acc"]) == 2
    assert record.curves["test_acc"][-1] == pytest.approx(record.test_acc)
    assert record.curves["elapsed_s"] == sorted(record.curves["elapsed_s"]) and record.seconds > 0
    assert record.curves["step_loss"] and record.params == TINY.planned_params() or record.params > 0
    assert record.checkpoint and record.checkpoint.endswith(".pt") and "/" not in record.checkpoint
    assert record.device == "cpu" and record.examples_per_s > 0
    assert "adam lr 0.001, batch 64" in record.recipe and "256 examples" in record.recipe


def test_json_and_zip_round_trip(two_runs: list[RunRecord], tmp_path: Path) -> None:
    path = save_run(two_runs[0], tmp_path / "a")
    assert path.name == RUN_FILE and read_run(path) == [two_runs[0]]
    exported = export_run(two_runs[1], tmp_path)
    assert exported.name.endswith(".run.json") and read_run(exported) == [two_runs[1]]
    archive = runs_zip(two_runs + [two_runs[0]], tmp_path)  # the same run twice: two entries
    with zipfile.ZipFile(archive) as handle:
        assert len(handle.namelist()) == 3
    assert read_run(archive) == two_runs + [two_runs[0]]
    assert read_run(json.dumps([two_runs[0].to_dict()]).encode()) == [two_runs[0]]


@pytest.mark.parametrize("content, words", [
    (b"not json", "not a run file"),
    (b'{"format": "something else"}', "not a run file this app wrote"),
    (b"PK\x03\x04broken zip", "damaged"),
    (b"[]", "from 1 to 100"),
])
def test_bad_run_files(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(SpecError, match=words):
        read_run(path)


@pytest.mark.parametrize("field, value", [("test_acc", float("nan")), ("params", -3), ("curves", {"test_acc": ["x"]}),
                                          ("label", "x" * 500), ("spec", [1, 2])])
def test_bad_fields_are_named(two_runs: list[RunRecord], field: str, value: object) -> None:
    data = two_runs[0].to_dict()
    data[field] = value
    with pytest.raises(SpecError) as caught:
        RunRecord.from_dict(json.loads(json.dumps(data, allow_nan=True)))
    assert caught.value.field.startswith(f"run.{field}")


def test_too_large_run_file(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (9 * 2**20))
    with pytest.raises(SpecError, match="too large"):
        read_run(path)


def test_table_and_differences(two_runs: list[RunRecord]) -> None:
    rows = runs_table(two_runs)
    assert [row[0] for row in rows] == ["adam 1e-3", "adam 3e-3"] and rows[0][6] == 2
    diff = {row[0]: row[1:] for row in differences(two_runs)}
    assert diff["lr"] == ["0.001", "0.003"] and diff["epochs"] == ["2", "1"]
    assert "dataset" not in diff and "optimizer" not in diff  # the same in both
    assert diff["vs best accuracy"].count("+0.000") >= 1
    assert differences(two_runs[:1]) == []


def test_finished_runs_per_session(two_runs: list[RunRecord], tmp_path: Path) -> None:
    store = FinishedRuns(sessions=2)
    store.add("a", two_runs[0])
    store.add(None, two_runs[1])  # no session: not kept
    assert store.take("a") == [two_runs[0]] and store.take("a") == []
    for session in ("x", "y", "z"):
        store.add(session, two_runs[0])
    assert store.take("x") == [] and store.take("z") == [two_runs[0]]  # the oldest session was dropped
    save_run(two_runs[1], tmp_path)
    assert store.add_folder("s", tmp_path) == two_runs[1] and store.take("s") == [two_runs[1]]
    assert store.add_folder("s", tmp_path / "nothing") is None


def test_runs_panel_view(two_runs: list[RunRecord]) -> None:
    out = runs_panel.view(two_runs, [])
    assert out["pick"].value == [0, 1] and len(out["table"]) == 2 and out["table"][1][0] == 2
    figure = out["curves"]
    assert isinstance(figure, go.Figure) and len(figure.data) == 4  # two runs x (by epoch, by time)
    assert list(figure.data[0].y) == two_runs[0].curves["test_acc"]
    assert list(figure.data[1].x) == two_runs[0].curves["elapsed_s"]
    assert "| lr |" in out["differences"]
    assert "Pick two" in runs_panel.view(two_runs, [1])["differences"]
    assert runs_panel.add_runs(two_runs, two_runs) == two_runs  # no duplicates
    assert "No runs yet" in runs_panel.view([], [])["count"]


def translatable_texts(demo: gr.Blocks) -> list[str]:
    """The English text of every gr.I18n label, value and info in a Blocks."""
    from explorer.ui.i18n import _KEYS

    texts = []
    for block in demo.blocks.values():
        for attribute in ("label", "value", "info"):
            value = getattr(block, attribute, None)
            key = getattr(value, "key", None)
            if key in _KEYS:
                texts.append(_KEYS[key])
            elif value is not None:  # a Markdown's value holds the key inside its serialised form
                texts += [text for key, text in _KEYS.items() if key in str(value)]
    return texts


def test_panel_builds_with_translations() -> None:
    from explorer.ui.i18n import ZH

    with gr.Blocks() as demo:
        runs_panel.build_runs_panel(None)
    texts = translatable_texts(demo)
    assert {"Runs to compare", "Train them one after another", runs_panel.INTRO} <= set(texts)
    assert [text for text in texts if text not in ZH] == []


def _request(session: str) -> SimpleNamespace:
    return SimpleNamespace(session_hash=session, client=SimpleNamespace(host="127.0.0.1"), headers={})


def _settings(**changes: object) -> list[object]:
    values: dict[str, object] = dict(spec=TINY, recipe_kind="short", dataset="shapes", epochs=1, batch_size=64,
                                     lr=1e-3, optimizer="adam", precision="fp32", device="cpu", input_size=32,
                                     train_subset=128)
    values.update(changes)
    return list(values.values())


async def _drain(generator) -> list:  # noqa: ANN001
    return [update async for update in generator]


def test_train_tab_records_the_finished_run_for_its_session(tmp_path: Path) -> None:
    limits.configure({"EXPLORER_DISK_CAP_MB": "2048"})
    FINISHED.take("session-a")
    updates = asyncio.run(_drain(train_panel.queued_training(*_settings(), request=_request("session-a"))))
    assert "test accuracy" in updates[-1][0].lower()
    records = FINISHED.take("session-a")
    assert len(records) == 1 and records[0].checkpoint == Path(updates[-1][6]).name
    assert records[0].curves["test_acc"] and records[0].dataset == "shapes"
    assert (Path(updates[-1][6]).parent / RUN_FILE).is_file()
    assert FINISHED.take("session-b") == []  # another session sees nothing


def test_d2l_comparison_trains_each_network_through_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    limits.configure({"EXPLORER_DISK_CAP_MB": "2048"})
    monkeypatch.setattr(runs_panel, "comparison_settings",
                        lambda name, dataset, epochs, examples, lr=None, device="auto":
                        tuple(_settings(epochs=epochs)))
    updates = asyncio.run(_drain(runs_panel.train_comparison([], ["d2l_nin", "d2l_alexnet"], "shapes", 1, 128,
                                                             _request("session-c"))))
    statuses = [update["status"] for update in updates if "status" in update]
    assert any("Run 1 of 2: d2l_alexnet" in status for status in statuses)  # in the table's order
    assert any("Run 2 of 2: d2l_nin" in status for status in statuses)
    final = updates[-1]
    assert len(final["runs"]) == 2 and final["pick"].value == [0, 1] and "Done: 2 of 2" in final["status"]
    assert len(final["curves"].data) == 4


def test_comparison_settings_use_the_short_recipe() -> None:
    settings = runs_panel.comparison_settings("d2l_nin", "shapes", 2, 1000, device="cpu")
    assert settings[1:4] == ("short", "shapes", 2) and settings[5] == runs_panel.COMPARISON_LR
    assert settings[6] == "adam" and settings[-1] == 1000
    assert runs_panel.comparison_settings("d2l_nin", "shapes", 2, 0, 3e-4)[5] == 3e-4
    assert settings[0] == load_preset("d2l_nin")


# -- a checkpoint read back as a run ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunRecord]:
    """Three steps on ``shapes`` (two epochs, so the epoch curves have two points): the checkpoint and the record
    the Train tab builds from the same run's events."""
    folder = tmp_path_factory.mktemp("checkpoint")
    config = TrainConfig(dataset="shapes", epochs=2, max_steps=3, train_subset=64, test_subset=32, batch_size=32,
                         device="cpu", precision="fp32", checkpoint_dir=str(folder), log_every=1, num_samples=0)
    events = list(train(TINY, config))
    start, done = events[0], events[-1]
    assert done.event == "done" and done.steps == 3, getattr(done, "message", done)
    history = [event.to_dict() for event in events[1:-1]]
    return Path(done.checkpoint_path), RunRecord.from_events(TINY, config, start, history, done)


def test_a_checkpoint_reads_back_as_the_run_with_its_curves(checkpoint_run: tuple[Path, RunRecord]) -> None:
    path, from_events = checkpoint_run
    (record,) = read_run(path)
    assert record.curves == from_events.curves  # the same curve format: one definition in explorer.runs
    assert record.curves["epoch"] == [1.0, 2.0] and record.curves["step"] == [1.0, 2.0, 3.0]
    assert len(record.curves["step_loss"]) == 3 and len(record.curves["test_acc"]) == 2
    for name in ("epochs", "steps", "test_acc", "test_loss", "train_acc", "train_loss", "train_seconds",
                 "examples_per_s", "device", "precision", "dataset", "family", "params", "macs", "checkpoint",
                 "run_id"):
        assert getattr(record, name) == pytest.approx(getattr(from_events, name)), name
    assert record.config == from_events.config and record.seconds > 0
    assert record.spec["input_size"] == 32 and record.spec["num_classes"] == from_events.spec["num_classes"]
    (from_bytes,) = read_run(path.read_bytes())  # as a zip entry would be read: no file name
    assert from_bytes.curves == record.curves and from_bytes.test_acc == record.test_acc
    assert RunRecord.from_dict(json.loads(record.to_json())) == record  # downloadable as a run file


def test_an_older_checkpoint_without_curves_loads(checkpoint_run: tuple[Path, RunRecord], tmp_path: Path) -> None:
    import torch

    checkpoint = torch.load(checkpoint_run[0], map_location="cpu", weights_only=True)
    for key in ("curves", "device", "precision"):
        del checkpoint[key]
    checkpoint["metrics"] = {key: checkpoint["metrics"][key] for key in
                             ("test_acc", "test_loss", "train_acc", "train_loss", "steps", "epochs_completed")}
    old = tmp_path / "old.pt"
    torch.save(checkpoint, old)
    (record,) = read_run(old)
    assert record.curves == {} and record.steps == 3 and record.seconds == 0.0 and "older checkpoint" in record.notes[0]
    assert runs_panel.view([record], [0])["table"][0][1] == record.label  # the Runs tab shows it, without curves


@pytest.mark.parametrize("kind", ["garbage", "truncated", "bare state_dict", "foreign dict", "json named .pt",
                                  "python object"])
def test_a_foreign_or_damaged_pt_is_a_clear_error(kind: str, checkpoint_run: tuple[Path, RunRecord],
                                                  tmp_path: Path) -> None:
    import collections

    import torch

    path = tmp_path / "upload.pt"
    if kind == "garbage":
        path.write_bytes(b"\x00\x01not a checkpoint at all")
    elif kind == "truncated":
        path.write_bytes(checkpoint_run[0].read_bytes()[:5000])
    elif kind == "bare state_dict":
        torch.save({"weight": torch.zeros(3)}, path)
    elif kind == "foreign dict":
        torch.save({"epoch": 3, "state": {"weight": torch.zeros(3)}, "format": "someone else's"}, path)
    elif kind == "json named .pt":
        path.write_text(checkpoint_run[1].to_json(), encoding="utf-8")
    else:
        torch.save(collections.Counter(a=1), path)  # a Python class: weights_only refuses to load it
    with pytest.raises(SpecError) as caught:
        read_run(path)
    message = str(caught.value)
    assert caught.value.field == "run" and "\n" not in message and len(message) < 500
    assert "upload.pt" in message and ("not a checkpoint" in message or "damaged" in message), message


def test_the_runs_tab_takes_checkpoints() -> None:
    with gr.Blocks() as demo:
        runs_panel.build_runs_panel(None)
    (upload,) = [block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "runs-upload"]
    assert {".json", ".zip", ".pt"} <= set(upload.file_types)


def _english(text: str) -> list[str]:
    import re

    from tests.chinese_text import english_lines

    return english_lines(re.sub(r"`[^`]*`", " ", text).replace("**", " "))


def _numbers(text: str) -> list[str]:
    import re

    return re.findall(r"\d+(?:[.,]\d+)*", text)


def test_the_chinese_view_has_the_same_numbers_and_no_english(two_runs: list[RunRecord]) -> None:
    english, chinese = runs_panel.view(two_runs, [0, 1]), runs_panel.view(two_runs, [0, 1], zh=True)
    assert chinese["table"].headers == runs_panel.HEADERS_ZH and len(runs_panel.HEADERS_ZH) == len(runs_panel.HEADERS)
    assert not _english("\n".join(runs_panel.HEADERS_ZH))
    for name in ("count", "differences"):
        # Run labels (``adam 1e-3``) are the user's; the rest is Chinese.
        lines = [line for line in _english(chinese[name]) if "adam" not in line]
        assert not lines, chinese[name]
        assert _numbers(chinese[name]) == _numbers(english[name])
    assert not _english(runs_panel.view([], [], zh=True)["count"])
    assert not _english(runs_panel.differences_markdown(two_runs[:1], zh=True))
    figure = chinese["curves"]
    texts = [figure.layout.xaxis.title.text, figure.layout.xaxis2.title.text, figure.layout.yaxis.title.text,
             *(annotation.text for annotation in figure.layout.annotations)]
    assert not _english("\n".join(texts)), texts
    assert ".pt" in runs_panel.UPLOAD_LABEL and ".pt" in runs_panel.UPLOAD_LABEL_ZH and ".pt" in runs_panel.INTRO
