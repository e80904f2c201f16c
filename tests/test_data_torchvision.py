"""The torchvision path: small files the test writes in torchvision's own layout; no download is attempted."""
from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer import load_preset
from explorer.training import DatasetUnavailable, DoneEvent, ErrorEvent, TrainConfig, is_on_disk, load_dataset, train
from explorer.training import data as data_module


def write_idx_images(path: Path, images: np.ndarray) -> None:
    """The IDX format MNIST uses: magic 0x00000803 (uint8, 3 dims), big-endian sizes, then the pixels."""
    count, rows, cols = images.shape
    path.write_bytes(struct.pack(">IIII", 0x0803, count, rows, cols) + images.astype(np.uint8).tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    path.write_bytes(struct.pack(">II", 0x0801, len(labels)) + labels.astype(np.uint8).tobytes())


def make_mnist_folder(root: Path, folder: str, *, train: int = 40, test: int = 20) -> tuple[np.ndarray, np.ndarray]:
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train_images = rng.integers(0, 256, (train, 28, 28), dtype=np.uint8)
    train_labels = np.arange(train) % 10
    write_idx_images(raw / "train-images-idx3-ubyte", train_images)
    write_idx_labels(raw / "train-labels-idx1-ubyte", train_labels)
    write_idx_images(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, (test, 28, 28), dtype=np.uint8))
    write_idx_labels(raw / "t10k-labels-idx1-ubyte", np.arange(test) % 10)
    return train_images, train_labels


@pytest.mark.parametrize(("name", "folder"), [("fashion-mnist", "FashionMNIST"), ("mnist", "MNIST")])
def test_idx_files_in_torchvision_layout_load_offline(tmp_path: Path, name: str, folder: str) -> None:
    train_images, train_labels = make_mnist_folder(tmp_path, folder)
    assert is_on_disk(name, tmp_path)
    data = load_dataset(name, train=True, data_dir=tmp_path, download=False)
    assert data.images.shape == (40, 1, 28, 28) and data.images.dtype == torch.uint8
    assert torch.equal(data.images[:, 0], torch.from_numpy(train_images))
    assert data.labels.tolist() == train_labels.tolist()
    test = load_dataset(name, train=False, data_dir=tmp_path, download=False, limit=5)
    assert len(test) == 5


def test_data_dir_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_mnist_folder(tmp_path, "FashionMNIST")
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path))
    assert is_on_disk("fashion-mnist")
    assert len(load_dataset("fashion-mnist", train=False, download=False)) == 20


def test_training_on_a_torchvision_folder(tmp_path: Path) -> None:
    make_mnist_folder(tmp_path / "data", "FashionMNIST")
    config = TrainConfig(dataset="fashion-mnist", data_dir=str(tmp_path / "data"), download=False, epochs=1,
                         batch_size=16, device="cpu", checkpoint_dir=str(tmp_path / "ckpt"))
    events = list(train(load_preset("d2l_vgg11_small").replace(input_size=32), config))
    done = events[-1]
    assert isinstance(done, DoneEvent), done
    assert done.classes[0] == "t-shirt" and sum(map(sum, done.confusion_matrix)) == 20


def test_missing_dataset_offline_offers_shapes(tmp_path: Path) -> None:
    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("fashion-mnist", train=True, data_dir=tmp_path, download=False)
    assert caught.value.field == "dataset"
    assert "shapes" in caught.value.message and str(tmp_path / "FashionMNIST" / "raw") in caught.value.message
    config = TrainConfig(dataset="mnist", data_dir=str(tmp_path), download=False, device="cpu")
    events = list(train(load_preset("d2l_vgg11_small").replace(input_size=32), config))
    assert len(events) == 1 and isinstance(events[0], ErrorEvent)
    assert events[0].kind == "dataset" and "'shapes'" in events[0].message


def test_failed_download_offers_shapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    def no_network(self: object) -> None:
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: <urlopen error [Errno -3] "
                           "Temporary failure in name resolution>")

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", no_network)
    monkeypatch.setattr("explorer.training.data.unreachable_reason", lambda hosts: None)  # the probe passes
    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("fashion-mnist", train=True, data_dir=tmp_path / "new", download=True)
    message = caught.value.message
    assert "download failed" in message and "name resolution" in message and "'shapes'" in message


def test_unreachable_servers_fail_fast_with_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """torchvision's downloads have no timeout; a connection probe first keeps a dead network from hanging a run."""
    import socket

    attempts = []

    def refuse(address: tuple[str, int], timeout: float) -> None:
        attempts.append((address, timeout))
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("mnist", train=True, data_dir=tmp_path, download=True)
    assert attempts and all(timeout <= 5 for _, timeout in attempts)
    assert "cannot reach" in caught.value.message and "ossci-datasets.s3.amazonaws.com" in caught.value.message
    assert "'shapes'" in caught.value.message


def test_cifar10_pickle_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets.cifar as cifar

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, count in [*((f"data_batch_{i}", 4) for i in range(1, 6)), ("test_batch", 6)]:
        batch = {"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8), "labels": list(np.arange(count) % 10)}
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                     "ship", "truck"]}, handle)
    # torchvision checks the real files' MD5 sums; these small stand-ins only need to exist.
    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))
    data_module._TORCHVISION_CACHE.clear()
    assert is_on_disk("cifar10", tmp_path)
    train_split = load_dataset("cifar10", train=True, data_dir=tmp_path, download=False)
    test_split = load_dataset("cifar10", train=False, data_dir=tmp_path, download=False)
    assert train_split.images.shape == (20, 3, 32, 32) and len(test_split) == 6
    with open(folder / "data_batch_1", "rb") as handle:
        first = pickle.load(handle)["data"][0]
    assert torch.equal(train_split.images[0], torch.from_numpy(first.reshape(3, 32, 32)))
    data_module._TORCHVISION_CACHE.clear()
