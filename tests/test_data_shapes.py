"""The built-in ``shapes`` dataset and the device-side batch pipeline."""
from __future__ import annotations

import torch

from explorer.training.data import (BatchPipeline, batch_indices, channel_stats, load_dataset, make_pipeline,
                                    num_batches, random_crop, random_flip, to_float_input)
from explorer.training.shapes import SHAPE_CLASSES, generate_shapes


def test_shapes_are_deterministic_balanced_uint8() -> None:
    images, labels = generate_shapes(200, seed=3)
    again, again_labels = generate_shapes(200, seed=3)
    other, _ = generate_shapes(200, seed=4)
    assert images.dtype == torch.uint8 and images.shape == (200, 1, 28, 28)
    assert labels.dtype == torch.int64 and labels.shape == (200,)
    assert torch.equal(images, again) and torch.equal(labels, again_labels)
    assert not torch.equal(images, other)
    assert torch.bincount(labels, minlength=10).tolist() == [20] * 10
    assert len(SHAPE_CLASSES) == 10


def test_color_shapes_are_32x32_rgb_and_keep_luminance_contrast() -> None:
    images, labels = generate_shapes(100, seed=0, color=True)
    assert images.shape == (100, 3, 32, 32)
    gray = to_float_input(images.float() / 255, 1, 32)
    # every image has a figure that stands out in luminance (what a grayscale network sees)
    spread = gray.amax(dim=(1, 2, 3)) - gray.amin(dim=(1, 2, 3))
    assert bool((spread > 0.25).all())


def test_no_single_pixel_gives_the_class_away() -> None:
    """Class means differ little pixel by pixel: position, size, rotation and polarity vary per image."""
    images, labels = generate_shapes(2000, seed=0)
    pixels = images.float().flatten(1) / 255
    best = 0.0
    for pixel in range(0, pixels.shape[1], 7):
        values = pixels[:, pixel]
        threshold = values.median()
        for label in range(10):
            inside = values[labels == label] > threshold
            best = max(best, float(inside.float().mean()), float((~inside).float().mean()))
    assert best < 0.8


def test_each_class_has_different_figures() -> None:
    images, labels = generate_shapes(100, seed=1)
    by_class = [images[labels == label].float().mean(0) for label in range(10)]
    assert all(not torch.equal(by_class[0], other) for other in by_class[1:])


def test_load_dataset_shapes_uses_limit_and_fixed_splits() -> None:
    train = load_dataset("shapes", train=True, limit=64)
    test = load_dataset("shapes", train=False, limit=64)
    assert len(train) == 64 and len(test) == 64
    assert not torch.equal(train.images, test.images)
    color = load_dataset("shapes-color", train=True, limit=10)
    assert color.images.shape == (10, 3, 32, 32)


def test_pipeline_resizes_converts_and_normalises() -> None:
    images, _ = generate_shapes(64, seed=0)
    pipeline = make_pipeline(images, model_channels=3, input_size=40, augment=False, flip=False, channels_last=True)
    batch = pipeline(images[:8], train=True)
    assert batch.shape == (8, 3, 40, 40) and batch.dtype == torch.float32
    assert batch.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(batch[:, 0], batch[:, 1])  # gray repeated into three channels
    full = pipeline(images, train=False)
    assert abs(float(full.mean())) < 0.2 and 0.7 < float(full.std()) < 1.3


def test_pipeline_rgb_to_gray_by_luminance() -> None:
    red = torch.zeros(1, 3, 4, 4, dtype=torch.uint8)
    red[:, 0] = 255
    gray = to_float_input(red.float() / 255, 1, 4)
    assert torch.allclose(gray, torch.full_like(gray, 0.299))


def test_random_crop_and_flip_keep_shape_and_content() -> None:
    images = torch.arange(2 * 1 * 6 * 6, dtype=torch.uint8).view(2, 1, 6, 6)
    generator = torch.Generator().manual_seed(0)
    cropped = random_crop(images, 2, generator)
    assert cropped.shape == images.shape and cropped.dtype == torch.uint8
    # every non-zero value of a crop comes from the same image
    for index in range(2):
        values = set(cropped[index].flatten().tolist()) - {0}
        assert values <= set(images[index].flatten().tolist())
    flipped = random_flip(images, torch.Generator().manual_seed(1))
    for index in range(2):
        assert torch.equal(flipped[index], images[index]) or torch.equal(flipped[index], images[index].flip(-1))


def test_augmentation_only_when_training() -> None:
    images, _ = generate_shapes(16, seed=0)
    mean, std = channel_stats(images, 1)
    pipeline = BatchPipeline(1, 28, 1, 28, mean, std, augment=True, flip=True, crop_padding=3)
    assert torch.equal(pipeline(images, train=False), pipeline(images, train=False))
    generator = torch.Generator().manual_seed(0)
    assert not torch.equal(pipeline(images, train=True, generator=generator), pipeline(images, train=False))


def test_batches_cover_small_splits_without_empty_or_single_tails() -> None:
    assert [len(b) for b in batch_indices(5, 128, shuffle=True)] == [5]  # fewer examples than one batch
    assert [len(b) for b in batch_indices(257, 128, shuffle=True)] == [128, 128]  # a tail of one is dropped
    assert [len(b) for b in batch_indices(257, 128, shuffle=False)] == [128, 128, 1]  # never when evaluating
    assert num_batches(5, 128) == 1 and num_batches(257, 128) == 2 and num_batches(257, 128, shuffle=False) == 3
    seen = torch.cat(list(batch_indices(300, 64, shuffle=True, generator=torch.Generator().manual_seed(0))))
    assert sorted(seen.tolist()) == list(range(300))
