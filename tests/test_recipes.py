"""One run, one result: the CLI, the Python API and the Train tab build their config with the same function, and
the same settings and seed give the same numbers; the short recipe's per-network choices."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from explorer import SpecError, load_preset, preset_names
from explorer.cli import build_parser
from explorer.training import train
from explorer.training.cli import config_from_args
from explorer.training.events import DoneEvent
from explorer.training.recipes import config_from_choices, recipe_from_choices, short_recipe

REPO = Path(__file__).resolve().parent.parent
#: Fields that change how a run reports or where it saves, never its numbers.
REPORTING = {"checkpoint_dir", "save_checkpoint", "log_every", "log_seconds", "max_seconds", "num_samples"}
TINY = dict(dataset="shapes", device="cpu", input_size=32, train_subset=96, test_subset=48, batch_size=32,
            max_steps=3, seed=3)


def numeric_fields(config: Any) -> dict[str, Any]:
    return {key: value for key, value in config.to_dict().items() if key not in REPORTING}


def cli_config(*argv: str) -> Any:
    return config_from_args(build_parser().parse_args(["train", *argv]))[1]


def test_cli_and_python_api_give_identical_metrics(tmp_path: Path) -> None:
    spec = load_preset("d2l_vgg11_small")
    argv = ["d2l_vgg11_small", "--dataset", "shapes", "--device", "cpu", "--input-size", "32", "--train-subset",
            "96", "--test-subset", "48", "--batch-size", "32", "--max-steps", "3", "--seed", "3", "--json",
            "--no-checkpoint"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    completed = subprocess.run([sys.executable, "-m", "explorer", "train", *argv], cwd=REPO, env=env,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    done_line = json.loads(completed.stdout.strip().splitlines()[-1])
    assert done_line["event"] == "done"

    config = config_from_choices(spec, recipe="short", save_checkpoint=False, **TINY)
    assert numeric_fields(config) == numeric_fields(cli_config(*argv[:-2]))
    done = [event for event in train(spec, config) if isinstance(event, DoneEvent)][0]
    for key in ("test_acc", "test_loss", "train_loss", "train_acc", "steps"):
        assert done_line[key] == getattr(done, key), key  # exactly: same data order, init, dropout, precision
    assert done.confusion_matrix == done_line["confusion_matrix"]


def test_the_pages_defaults_build_the_clis_config() -> None:
    """The Train tab's widgets start at the short recipe's values; with them, Start builds what the CLI runs."""
    from explorer.ui import train_panel

    for name in ("d2l_vgg11_small", "vgg16", "resnet18"):
        spec = load_preset(name)
        values = train_panel.apply_short_recipe(spec, "shapes", "cpu")  # the widgets after "Short-run recipe"
        kind, dataset, epochs, batch_size, lr, optimizer, precision, input_size = values[:8]
        _, page = train_panel.config_from_widgets(spec, kind, dataset, epochs, batch_size, lr, optimizer, precision,
                                                  "cpu", input_size, 0)
        cli = cli_config(name, "--dataset", "shapes", "--device", "cpu")
        shared = config_from_choices(spec, dataset="shapes", device="cpu")
        assert numeric_fields(page) == numeric_fields(cli) == numeric_fields(shared), name


def test_choices_override_the_recipe_and_none_keeps_it() -> None:
    spec = load_preset("d2l_vgg11_small")
    base = short_recipe(spec, dataset="shapes", device="cpu")
    assert config_from_choices(spec, dataset="shapes", device="cpu", lr=None, input_size=None) == base
    changed = config_from_choices(spec, dataset="shapes", device="cpu", lr=0.01, epochs=3)
    assert (changed.lr, changed.epochs) == (0.01, 3)
    published = recipe_from_choices(spec, recipe="published", dataset="shapes")
    assert published.kind == "published" and published.config.optimizer == "sgd"
    assert published.config.dataset == "shapes"
    with pytest.raises(SpecError) as caught:
        config_from_choices(spec, recipe="long")
    assert caught.value.field == "recipe"
    with pytest.raises(SpecError) as caught:
        config_from_choices(spec, learning_rate=0.1)
    assert caught.value.field == "learning_rate"


@pytest.mark.parametrize("name", preset_names())
def test_short_recipe_warms_up_every_preset(name: str) -> None:
    """Every preset's short recipe warms the rate up and clips gradients (measured in benchmarks/recipes.py)."""
    config = short_recipe(name, dataset="shapes", device="cpu")
    assert config.warmup_steps > 0 and config.grad_clip is not None and math.isfinite(config.grad_clip)
    family = load_preset(name).family
    assert config.optimizer == "adam" and config.init == ("xavier" if family == "nin" else "kaiming")


def test_short_recipe_lowers_the_rate_for_a_wide_classifier() -> None:
    """VGG-16's fc1 takes 25,088 inputs: Adam at 1e-3 blew its loss up (3.7 -> 104 at step 2), 1e-4 learns."""
    from explorer.training.recipes import WIDE_FAN_IN, WIDE_LR, short_recipe_info, widest_linear_fan_in

    assert widest_linear_fan_in(load_preset("vgg16").replace(input_size=32)) == 25_088 > WIDE_FAN_IN
    assert short_recipe("vgg16", dataset="shapes", device="cpu").lr == WIDE_LR
    assert "25,088 inputs" in short_recipe_info("vgg16", dataset="shapes", device="cpu").summary
    assert short_recipe("d2l_vgg11_small", dataset="shapes", device="cpu").lr == 1e-3  # fc1 takes 6,272
    assert short_recipe("resnet18", dataset="shapes", device="cpu").lr == 1e-3


def test_a_run_resumed_in_other_threads_between_random_draws_gives_the_same_numbers() -> None:
    """The Train tab resumes the run's generator in worker threads, and other code may draw from PyTorch's global
    random numbers between two steps; dropout (d2l's VGG has 0.5) must still see the run's own stream."""
    import threading

    import torch

    spec = load_preset("d2l_vgg11_small")
    config = config_from_choices(spec, recipe="short", save_checkpoint=False, log_every=1, **TINY)
    plain = [event for event in train(spec, config) if isinstance(event, DoneEvent)][0]

    events = train(spec, config)
    results: list[Any] = []

    def resume() -> None:
        results.append(next(events, None))

    while not results or results[-1] is not None:
        torch.rand(1000)  # another tab, another request: draws from the global generator between steps
        worker = threading.Thread(target=resume)
        worker.start()
        worker.join()
    hopped = [event for event in results if isinstance(event, DoneEvent)][0]
    assert (hopped.test_acc, hopped.test_loss, hopped.train_loss) == (plain.test_acc, plain.test_loss,
                                                                      plain.train_loss)


def test_the_page_and_the_cli_give_the_same_numbers(tmp_path: Path) -> None:
    """One run through the Train tab's Start handler and the same settings through ``python -m explorer train``:
    the same test accuracy and loss, read from the checkpoint the page wrote and from the CLI's JSON."""
    from explorer.ui import train_panel

    name = "d2l_vgg11_small"
    spec = load_preset(name)
    kind, dataset, epochs, batch_size, lr, optimizer, precision, input_size = train_panel.apply_short_recipe(
        spec, "shapes", "cpu")[:8]
    updates = list(train_panel.start_training(spec, kind, dataset, 1, 32, lr, optimizer, precision, "cpu", 32, 96,
                                              checkpoint_dir=str(tmp_path)))
    checkpoint = updates[-1][-1]
    assert checkpoint and Path(checkpoint).is_file(), updates[-1][0]
    page = torch_load_metrics(checkpoint)

    argv = [name, "--dataset", "shapes", "--device", "cpu", "--epochs", "1", "--batch-size", "32", "--input-size",
            "32", "--train-subset", "96", "--json", "--no-checkpoint"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    completed = subprocess.run([sys.executable, "-m", "explorer", "train", *argv], cwd=REPO, env=env,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    cli = json.loads(completed.stdout.strip().splitlines()[-1])
    assert cli["event"] == "done"
    for key in ("test_acc", "test_loss", "train_loss", "train_acc"):
        assert page[key] == cli[key], key  # exactly: same defaults, data order, init and precision


def torch_load_metrics(path: str) -> dict[str, Any]:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)["metrics"]
