"""The Inspect tab's callbacks without a server: a checkpoint trained for a few steps on ``shapes`` at 32 px,
test images, drawings and uploads; bad files and images change nothing but the message."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from explorer.analysis import analyze
from explorer.inspection import ImageError, default_gradcam_block
from explorer.presets import load_preset
from explorer.specs import SpecError
from explorer.training.config import TrainConfig
from explorer.training.data import DatasetUnavailable
from explorer.training.engine import train
from explorer.ui import inspect_panel
from explorer.ui.inspect_panel import (CheckpointCache, PREDICTED, build_inspect_panel, drawing_image, feature_view,
                                       guarded, inspect_view, network_view)

TINY_VGG = load_preset("d2l_vgg11_small").replace(input_size=32, ratio=16, hidden_sizes=(32,), dropout=0.0)


def _train(spec, folder: Path, **options) -> str:  # noqa: ANN001
    config = TrainConfig(dataset="shapes", epochs=1, batch_size=64, device="cpu", precision="fp32",
                         checkpoint_dir=str(folder), log_every=1000, **options)
    done = list(train(spec, config))[-1]
    assert done.event == "done", getattr(done, "message", done)
    return done.checkpoint_path


@pytest.fixture(scope="module")
def vgg_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _train(TINY_VGG, tmp_path_factory.mktemp("vgg"), train_subset=512, test_subset=128)


@pytest.fixture(scope="module")
def googlenet_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    spec = load_preset("d2l_googlenet").replace(input_size=32)
    return _train(spec, tmp_path_factory.mktemp("googlenet"), train_subset=64, test_subset=64, max_steps=1)


def test_network_view_fills_everything_from_a_test_image(vgg_path: str) -> None:
    out = network_view(vgg_path)
    assert out["network"] == vgg_path
    assert "VGG" in out["network_md"] and "shapes" in out["network_md"]
    items = out["gallery_items"]
    assert len(items) == inspect_panel.GALLERY_SIZE == len(out["gallery"])
    wrong = [item.predicted != item.label for item in items]
    assert wrong == sorted(wrong, reverse=True), "misclassified images come first"
    for (picture, caption), item in zip(out["gallery"], items):
        assert picture.width >= 84 and ("✗" in caption) == (item.predicted != item.label)
    default = default_gradcam_block(analyze(TINY_VGG))
    assert out["cam_block"].value == default and out["feature_block"].value == default
    assert out["cam_class"].value == PREDICTED and len(out["cam_class"].choices) == 11
    # the first test image is inspected at once
    assert len(out["top"]) == 5 and 0.0 < sum(out["top"].values()) <= 1.0 + 1e-6
    assert list(out["top"].values()) == sorted(out["top"].values(), reverse=True)
    assert all(isinstance(out[name], Image.Image) for name in ("seen", "gradcam", "features", "filters"))
    assert out["result"].gradcam.block == default
    assert np.array_equal(out["image"], items[0].pixels)
    assert "16 x 4 x 4" in out["features_md"] and out["branches"].visible is False


def test_gradcam_class_and_block_follow_the_dropdowns(vgg_path: str) -> None:
    image = network_view(vgg_path)["gallery_items"][3].pixels
    out = inspect_view(vgg_path, image, 7, "block2", "block1")
    assert out["result"].gradcam.class_index == 7 and out["result"].gradcam.block == "block2"
    assert "block1" in out["features_md"] and "of 4 channels" in out["features_md"]
    assert out["gradcam"].size == out["result"].gradcam.overlay.size
    # an unknown block falls back to the default; "predicted" uses the top class
    out = inspect_view(vgg_path, image, PREDICTED, "no-such-block", "block9")
    assert out["result"].gradcam.class_index == out["result"].top[0].index
    assert out["result"].gradcam.block == default_gradcam_block(analyze(TINY_VGG))
    assert out["features_md"].startswith("**block5**")  # the last block when the name is unknown


def test_feature_view_switches_blocks_without_a_new_pass(vgg_path: str) -> None:
    result = network_view(vgg_path)["result"]
    first = feature_view(result, "block1")
    second = feature_view(result, "block4")
    assert first["features"] is result.feature("block1").grid and second["features"] is result.feature("block4").grid
    assert feature_view(None, "block1") == {}


def test_inception_blocks_show_their_branches(googlenet_path: str) -> None:
    out = network_view(googlenet_path, previous_block="inception3a")
    assert out["feature_block"].value == "inception3a"
    assert out["branches"].visible is True and out["branches"].value is not None
    assert "4 branches" in out["features_md"] and "1x1 → 3x3, 1x1 → 5x5, 3x3 pool → 1x1" in out["features_md"]
    stem = next(maps.name for maps in out["result"].features if not maps.branches)
    assert feature_view(out["result"], stem)["branches"].visible is False  # a plain block: no branches


def test_drawings_and_uploaded_images(vgg_path: str, tmp_path: Path) -> None:
    canvas = np.full((280, 280, 3), 255, dtype=np.uint8)
    canvas[60:220, 130:150] = 0  # a bar
    out = inspect_view(vgg_path, drawing_image({"composite": Image.fromarray(canvas), "layers": []}), PREDICTED,
                       None, None)
    assert out["image"].shape == (28, 28)  # kept at the dataset's resolution for re-inspection
    assert "Predicted" in out["message"]
    with pytest.raises(ImageError, match="blank"):
        drawing_image({"composite": Image.new("RGB", (280, 280), "white")})
    with pytest.raises(ImageError, match="nothing drawn"):
        drawing_image({"composite": None})
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 90, 3), dtype=np.uint8)).save(photo)
    out = inspect_view(vgg_path, str(photo), PREDICTED, None, None)
    assert "padded to a square" in out["details"]


def _huge_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize("case", ["missing", "text", "truncated", "state_dict", "no_network"])
def test_bad_checkpoints_change_only_the_message(vgg_path: str, tmp_path: Path, case: str) -> None:
    path = tmp_path / "upload.pt"
    if case == "text":
        path.write_text("hello")
    elif case == "truncated":
        path.write_bytes(Path(vgg_path).read_bytes()[:5000])
    elif case == "state_dict":
        torch.save({"weight": torch.zeros(3)}, path)
    target = None if case == "no_network" else str(path)
    out = guarded(network_view, target)
    assert set(out) == {"message", "error"}, out
    assert "spec-error" in out["message"] and out["error"]


@pytest.mark.parametrize("case", ["not_image", "huge", "none"])
def test_bad_images_change_only_the_message(vgg_path: str, tmp_path: Path, case: str) -> None:
    path = tmp_path / "upload.png"
    path.write_bytes(b"GIF89a, but not really" if case == "not_image" else _huge_png(20_000, 20_000))
    out = guarded(inspect_view, vgg_path, None if case == "none" else str(path), PREDICTED, None, None)
    assert set(out) == {"message", "error"}
    assert {"not_image": "not an image", "huge": "too large", "none": "no image"}[case] in out["error"]


def test_every_label_has_a_chinese_translation() -> None:
    from explorer.ui.i18n import ZH
    from tests.test_runs import translatable_texts

    with gr.Blocks() as demo:
        build_inspect_panel(None)
    texts = translatable_texts(demo)
    assert {"Grad-CAM class", "Feature maps", inspect_panel.INTRO} <= set(texts)
    assert [text for text in texts if text not in ZH] == []


def test_the_gradio_handlers_leave_outputs_alone_on_a_bad_upload(tmp_path: Path) -> None:
    with gr.Blocks() as demo:
        panel = build_inspect_panel(None)
    handlers = [fn for fn in demo.fns.values()
                if any(target[0] == panel["upload"]._id and target[1] == "upload" for target in fn.targets)]
    assert len(handlers) == 1
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    with pytest.warns(UserWarning):
        result = handlers[0].fn(str(bad), None)
    assert list(result) == [panel["message"]]  # nothing else is updated
    assert "not a PyTorch checkpoint" in result[panel["message"]]


def test_a_deleted_file_is_explained(vgg_path: str, tmp_path: Path) -> None:
    copy = tmp_path / "copy.pt"
    copy.write_bytes(Path(vgg_path).read_bytes())
    assert "VGG" in network_view(str(copy))["network_md"]
    copy.unlink()
    out = guarded(network_view, str(copy))
    assert "no longer on the server" in out["error"]


def test_no_dataset_on_disk_means_no_gallery(vgg_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise DatasetUnavailable("not on disk")
    monkeypatch.setattr(inspect_panel, "load_dataset", unavailable)
    out = network_view(vgg_path)
    assert out["gallery"] == [] and "draw an image" in out["message"] and "seen" not in out


def test_checkpoint_cache_reuses_and_evicts(vgg_path: str, tmp_path: Path) -> None:
    cache = CheckpointCache(entries=2)
    copies = []
    for number in range(3):
        copy = tmp_path / f"c{number}.pt"
        copy.write_bytes(Path(vgg_path).read_bytes())
        copies.append(copy)
    first = cache.get(copies[0])
    assert cache.get(copies[0]) is first
    cache.get(copies[1])
    cache.get(copies[2])
    assert cache.get(copies[0]) is not first  # evicted (two entries at most), loaded again


def test_upload_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.ui.app import launch_options

    monkeypatch.delenv(inspect_panel.MAX_UPLOAD_ENV, raising=False)
    assert inspect_panel.max_upload_mb() == 600 and launch_options()["max_file_size"] == "600mb"
    monkeypatch.setenv(inspect_panel.MAX_UPLOAD_ENV, "80")
    assert launch_options()["max_file_size"] == "80mb"
    for bad in ("lots", "0", "999999"):
        monkeypatch.setenv(inspect_panel.MAX_UPLOAD_ENV, bad)
        with pytest.raises(SpecError, match=inspect_panel.MAX_UPLOAD_ENV):
            inspect_panel.max_upload_mb()


def test_train_tab_checkpoint_is_required() -> None:
    with pytest.raises(SpecError, match="Train tab"):
        inspect_panel._train_path(None)
    assert inspect_panel._train_path("/x/y.pt") == "/x/y.pt"
    assert inspect_panel._train_path({"path": "/x/z.pt"}) == "/x/z.pt"


def test_chinese_text_has_the_same_numbers_and_no_english(vgg_path: str) -> None:
    import re

    from tests.chinese_text import english_lines

    def english(text: str) -> list[str]:
        visible = re.sub(r"<[^>]+>", "\n", re.sub(r"`[^`]*`", " ", text)).replace("**", " ")
        return english_lines(visible)

    def numbers(text: str) -> list[str]:
        return re.findall(r"\d+(?:[.,]\d+)*", re.sub(r"`[^`]*`", " ", text))

    en, zh = network_view(vgg_path), network_view(vgg_path, zh=True)
    # Class names, block names and the timing steps' names come from the data and the network: identifiers here.
    from tests.chinese_text import ALLOWED_WORDS

    classes = set(re.findall(r"[A-Za-z]+", " ".join(inspect_panel.get_network(vgg_path).classes))) | ALLOWED_WORDS
    for name in ("network_md", "message", "features_md"):
        assert not [line for line in english(zh[name]) if not set(re.findall(r"\b[A-Za-z]{3,}\b", line)) <= classes], \
            zh[name]
        assert sorted(numbers(zh[name])) == sorted(numbers(en[name]))  # Chinese word order differs
    assert "预测为" in zh["message"] and "用时" in zh["details"]
    for exc in (SpecError("checkpoint", "no network yet: train one in the Train tab or upload a checkpoint (.pt)"),
                ImageError("the canvas is blank: draw a shape (or a digit) on the canvas first")):
        assert not english(inspect_panel.error_message(exc, zh=True))
    out = guarded(inspect_view, None, None, PREDICTED, None, None, zh=True)
    assert "还没有网络" in out["message"] and "no network yet" in out["error"]
    assert inspect_panel.NO_NETWORK_ZH == "**网络：** 还没有。"
