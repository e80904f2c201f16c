"""Short training runs: datasets on the device, a generator of typed events, recipes, estimates and the CLI.

    from explorer import load_preset
    from explorer.training import config_from_choices, train
    spec = load_preset("d2l_vgg11_small")
    config = config_from_choices(spec, dataset="shapes", epochs=1)  # what the CLI and the Train tab would run
    for event in train(spec, config):
        print(event.to_dict())
"""
from __future__ import annotations

from .config import DATASET_NAMES, OPTIMIZERS, PRECISIONS, TrainConfig
from .data import DATASETS, DatasetInfo, DatasetUnavailable, ImageData, default_data_dir, is_on_disk, load_dataset
from .engine import RunHooks, load_checkpoint, train
from .estimate import RunEstimate, estimate_run
from .events import (DoneEvent, EpochEvent, ErrorEvent, EvalEvent, SamplePrediction, StartEvent, StepEvent,
                     TrainEvent)
from .recipes import (Recipe, config_from_choices, published_recipe, published_recipe_info, recipe_from_choices,
                      short_recipe, short_recipe_info)
from .shapes import SHAPE_CLASSES, generate_shapes

__all__ = [
    "DATASETS", "DATASET_NAMES", "DatasetInfo", "DatasetUnavailable", "DoneEvent", "EpochEvent", "ErrorEvent",
    "EvalEvent", "ImageData", "OPTIMIZERS", "PRECISIONS", "Recipe", "RunEstimate", "RunHooks", "SHAPE_CLASSES",
    "SamplePrediction", "StartEvent", "StepEvent", "TrainConfig", "TrainEvent", "config_from_choices",
    "default_data_dir", "recipe_from_choices",
    "estimate_run", "generate_shapes", "is_on_disk", "load_checkpoint", "load_dataset", "published_recipe",
    "published_recipe_info", "short_recipe", "short_recipe_info", "train",
]
