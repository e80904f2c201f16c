"""TrainConfig validation, the recipes and the pre-launch estimate."""
from __future__ import annotations

import pytest

from explorer import SpecError, load_preset, preset_names
from explorer.training import TrainConfig, estimate_run, published_recipe, short_recipe
from explorer.training.recipes import published_recipe_info, smallest_input_size


@pytest.mark.parametrize(("field", "value"), [
    ("dataset", "imagenet"), ("epochs", 0), ("batch_size", 1.5), ("optimizer", "rmsprop"), ("lr", 0.0),
    ("lr", float("nan")), ("precision", "fp16"), ("device", "tpu"), ("init", "orthogonal"), ("seed", -1),
    ("channels_last", "yes"), ("input_size", 4), ("max_steps", 0), ("train_subset", 0), ("aux_weight", -1.0),
    ("data_dir", ""), ("checkpoint_dir", 3),
])
def test_invalid_values_name_their_field(field: str, value: object) -> None:
    with pytest.raises(SpecError) as caught:
        TrainConfig(**{field: value})
    assert caught.value.field == field


def test_defaults_and_aliases() -> None:
    config = TrainConfig()
    assert (config.dataset, config.optimizer, config.lr, config.epochs, config.aux_weight) == (
        "fashion-mnist", "adam", 1e-3, 2, 0.3)
    assert TrainConfig(dataset="CIFAR-10").dataset == "cifar10"
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(SpecError, match="unknown training setting"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(SpecError):
        config.replace(batch_size=0)


D2L = {"d2l_alexnet": (0.01, 224), "d2l_vgg11": (0.05, 224), "d2l_vgg11_small": (0.05, 224),
       "d2l_nin": (0.1, 224), "d2l_googlenet": (0.1, 96), "d2l_resnet18": (0.05, 96)}


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_has_a_published_recipe(name: str) -> None:
    config = published_recipe(name)
    batch_size = 256 if load_preset(name).family == "resnet" else 128  # d2l section 8.6 uses 256
    assert config.optimizer == "sgd" and config.batch_size == batch_size and config.epochs == 10
    assert config.init == "xavier"
    if name in D2L:
        assert (config.lr, config.input_size) == D2L[name]
        assert "d2l.ai" in published_recipe_info(name).source
    load_preset(name).replace(input_size=config.input_size)  # the recipe's size suits the network


def test_published_recipe_for_an_edited_spec_uses_its_family() -> None:
    edited = load_preset("d2l_nin").replace(dropout=0.1)
    recipe = published_recipe_info(edited)
    assert recipe.config.lr == 0.1 and "this network" in recipe.source
    with pytest.raises(SpecError):
        published_recipe("no_such_preset")


def test_short_recipe_learns_fast_and_shrinks_inputs_on_cpu() -> None:
    config = short_recipe("d2l_vgg11_small", device="cpu")
    assert (config.optimizer, config.lr, config.epochs, config.init) == ("adam", 1e-3, 2, "kaiming")
    assert config.input_size == 32
    assert short_recipe("d2l_alexnet", device="cpu").input_size == 96  # the smallest size AlexNet accepts here
    assert short_recipe("d2l_vgg11_small", device="cuda").input_size is None
    assert smallest_input_size(load_preset("nin_cifar")) is None  # already 32


def test_estimate_fits_and_measures() -> None:
    spec = load_preset("d2l_vgg11_small").replace(input_size=32)
    config = TrainConfig(dataset="shapes", batch_size=16, train_subset=160, device="cpu")
    estimate = estimate_run(spec, config, measure=True, measure_steps=1)
    assert estimate.fits and estimate.steps_per_epoch == 10
    assert estimate.seconds_per_step and estimate.seconds_per_step > 0
    assert estimate.seconds_per_epoch and estimate.seconds_per_epoch > 10 * estimate.seconds_per_step * 0.99
    assert estimate.training_memory_bytes > 4 * spec.planned_params()  # at least the weights
    assert "Fits" in estimate.message and estimate.max_batch_size and estimate.max_batch_size > 16


def test_estimate_refuses_what_does_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("explorer.training.estimate.free_memory_bytes", lambda device: 500 * 2**20)
    estimate = estimate_run(load_preset("vgg16"), TrainConfig(dataset="shapes", batch_size=256, device="cpu"))
    assert not estimate.fits and estimate.seconds_per_step is None
    assert "Won't fit" in estimate.message


def test_estimate_raises_for_a_bad_spec() -> None:
    with pytest.raises(SpecError):
        estimate_run(load_preset("d2l_alexnet"), TrainConfig(input_size=16, device="cpu"), measure=False)
