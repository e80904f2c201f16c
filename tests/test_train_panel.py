"""The Train tab's handlers, called directly (no server)."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import plotly.graph_objects as go
import pytest

from explorer import load_preset
from explorer.ui import train_panel

SPEC = load_preset("d2l_vgg11_small").to_dict()


def settings(**changes: object) -> list[object]:
    values: dict[str, object] = dict(spec=SPEC, recipe_kind="short", dataset="shapes", epochs=1, batch_size=32,
                                     lr=1e-3, optimizer="adam", precision="fp32", device="cpu", input_size=32,
                                     train_subset=64)
    values.update(changes)
    return list(values.values())


@pytest.fixture(autouse=True)
def checkpoint_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(train_panel, "CHECKPOINT_DIR", tmp_path)
    return tmp_path


def test_panel_builds_inside_blocks() -> None:
    with gr.Blocks() as demo:
        state = gr.State(SPEC)
        train_panel.build_train_panel(state)
    from explorer.ui.i18n import ZH, tr

    def text(value):  # labels are gr.I18n keys; map them back to their English text
        return getattr(value, "key", value)

    labels = {text(getattr(block, "label", None)) for block in demo.blocks.values()}
    names = ["Dataset", "Epochs", "Batch size", "Learning rate", "Optimizer", "Precision", "Device"]
    assert {tr(name).key for name in names} <= labels
    assert all(name in ZH for name in names)  # each has a Chinese translation
    values = [text(getattr(block, "value", None)) for block in demo.blocks.values()]
    assert any(tr("Use published recipe").key in str(value) for value in values)


def test_start_streams_curves_then_results(checkpoint_folder: Path) -> None:
    updates = list(train_panel.start_training(*settings(epochs=2)))
    assert len(updates) >= 4
    assert all(len(update) == 7 for update in updates)
    live = [update[1] for update in updates[1:-1] if isinstance(update[1], go.Figure)]
    assert live, "the curves are updated while training"
    status, curves, results, per_class, confusion, samples, checkpoint = updates[-1]
    assert "test accuracy" in status.lower() and "Test accuracy" in results
    assert all(isinstance(figure, go.Figure) for figure in (curves, per_class, confusion, samples))
    assert confusion.data[0].type == "heatmap"
    assert Path(checkpoint).is_file() and Path(checkpoint).parent == checkpoint_folder


def test_start_refuses_without_a_valid_spec() -> None:
    with pytest.raises(gr.Error, match="no valid network"):
        list(train_panel.start_training(*settings(spec=None)))


def test_start_refuses_bad_settings_naming_the_field() -> None:
    with pytest.raises(gr.Error, match="batch_size"):
        list(train_panel.start_training(*settings(batch_size=0)))


def test_start_refuses_a_run_that_does_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("explorer.training.estimate.free_memory_bytes", lambda device: 1024)
    with pytest.raises(gr.Error, match="Won't fit"):
        list(train_panel.start_training(*settings()))


def test_errors_in_a_run_reach_the_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dataset that is missing and cannot be downloaded: the message offers the built-in dataset."""
    import torchvision.datasets

    def no_network(self: object) -> None:
        raise RuntimeError("Error downloading: <urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", no_network)
    monkeypatch.setattr("explorer.training.data.unreachable_reason", lambda hosts: None)  # the probe passes
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(gr.Error, match="'shapes'"):
        list(train_panel.start_training(*settings(dataset="fashion-mnist")))


def test_stop_closes_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cancelling the event closes the handler's generator; its finally closes the engine's generator."""
    closed = []
    real_train = train_panel.train

    def watched_train(*args: object, **kwargs: object):  # noqa: ANN202
        events = real_train(*args, **kwargs)
        try:
            yield from events
        finally:
            closed.append(True)

    monkeypatch.setattr(train_panel, "train", watched_train)
    updates = train_panel.start_training(*settings(epochs=5, train_subset=256))
    next(updates)
    next(updates)
    updates.close()
    assert closed == [True]


def test_recipe_buttons() -> None:
    published = train_panel.apply_published_recipe(SPEC, "cpu")
    assert published[0] == "published" and published[4] == 0.05 and published[5] == "sgd" and published[7] == 224
    assert "d2l" in published[-1]
    short = train_panel.apply_short_recipe(SPEC, "shapes", "cpu")
    assert short[0] == "short" and short[4] == 1e-3 and short[5] == "adam" and short[7] == 32
    assert "Adam" in short[-1]
    with pytest.raises(gr.Error):
        train_panel.apply_published_recipe(None, "cpu")


def test_describe_network_and_dataset_choices() -> None:
    assert "d2l_vgg11_small" in train_panel.describe_network(SPEC)
    # Explore's state holds the Spec object itself
    assert train_panel.describe_network(load_preset("d2l_vgg11_small")) == train_panel.describe_network(SPEC)
    spec, _ = train_panel.config_from_widgets(load_preset("vgg11"), "short", "shapes", 1, 32, 1e-3, "adam", "fp32",
                                              "cpu", 0, 0)
    assert spec == load_preset("vgg11")
    assert "invalid" in train_panel.describe_network(None)
    names = [name for _, name in train_panel.dataset_choices()]
    assert names[:4] == ["fashion-mnist", "mnist", "cifar10", "shapes"]


def test_check_run_reports_memory_and_time() -> None:
    text = train_panel.check_run(*settings())
    assert text.startswith("✅") and "GiB" in text and "per epoch" in text
