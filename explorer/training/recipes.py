"""Training recipes: the one each preset was published with, and the short-run recipe that learns quickly.

d2l trains its four Fashion-MNIST networks with ``train_ch6``: plain SGD (no momentum, no weight decay),
batch 128, Xavier-uniform weights, 10 epochs, images resized with PIL. Its learning rates and resize targets
are in ``REFERENCE.md``. That recipe needs the whole 10 epochs: on a short run plain SGD at those rates sits at
chance (measured on small data: loss 2.30 after 540 steps), while Adam at lr 1e-3 learns within a couple of
hundred steps. So the short-run default is Adam (with He initialisation, measured to learn faster than Xavier on the
VGG without batch norm), and the published recipe is one click away.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..presets import get_preset, list_presets
from ..specs import ArchSpec, SpecError, parse_spec
from .config import TrainConfig


@dataclass(frozen=True)
class Recipe:
    """A training config and where it comes from."""

    kind: str  # "published" or "short"
    config: TrainConfig
    source: str  # the publication, or the measurement
    summary: str  # one line for a screen


#: d2l's ``train_ch6`` settings per family: (learning rate, resize target, the test accuracy the book printed, or
#: None where we could not check the printed figure).
D2L_RECIPES: dict[str, tuple[float, int, float | None]] = {
    "alexnet": (0.01, 224, 0.883),
    "vgg": (0.05, 224, 0.920),
    "nin": (0.1, 224, 0.790),
    "googlenet": (0.1, 96, 0.886),
    # Section 8.6 trains its ResNet-18 with lr 0.05, batch 256, resize 96, 10 epochs. Its printed accuracy is not
    # in REFERENCE.md and could not be checked here, so it is left unknown rather than quoted from memory.
    "resnet": (0.05, 96, None),
}
#: Batch sizes where a section departs from train_ch6's usual 128.
D2L_BATCH_SIZES: dict[str, int] = {"resnet": 256}
_D2L_SECTIONS = {"alexnet": "8.1", "vgg": "8.2", "nin": "8.3", "googlenet": "8.4", "resnet": "8.6"}
#: The short recipe's Adam rate, and the lower one for networks whose widest linear layer takes more inputs than
#: WIDE_FAN_IN. Measured on shapes at 32 px (benchmarks/recipes.py): torchvision's VGG-16 (fc1 takes 25,088
#: inputs) went from loss 3.7 to 104 at step 2 at lr 1e-3, stayed at chance with a 50-step warm-up, and reached
#: 0.40 test accuracy after 60 steps at 1e-4; VGG-11 (the same fc1) was at chance (0.11) after 40 steps of 1e-3
#: with warm-up; d2l's small VGG-11 (fc1 takes 6,272) learns at 1e-3. Adam moves every weight by about lr per step,
#: so a layer's output moves by about lr x fan-in: the wide first FC layer is what blows up.
SHORT_LR = 1e-3
WIDE_LR = 1e-4
WIDE_FAN_IN = 8192
#: Linear warm-up steps and the gradient-norm clip of the short recipe (a guard against the first, largest steps).
SHORT_WARMUP_STEPS = 10
SHORT_GRAD_CLIP = 1.0
#: Input sizes tried, smallest first, when a short run on a CPU shrinks the input.
CPU_INPUT_SIZES = (32, 48, 64, 96, 128, 160, 224)


def published_recipe(preset_name: str) -> TrainConfig:
    """The recipe the preset's network was trained with in d2l (on Fashion-MNIST), as a config.

    Presets from torchvision (trained on ImageNet, which this explorer cannot train) get d2l's recipe for their
    family; :func:`published_recipe_info` says which.

    Raises:
        SpecError: for an unknown preset name.
    """
    return published_recipe_info(preset_name).config


def published_recipe_info(preset_or_spec: str | ArchSpec | Mapping[str, Any]) -> Recipe:
    """:func:`published_recipe` with its source, for a preset name or any spec (matched to a preset when one
    has the same architecture)."""
    if isinstance(preset_or_spec, str) and not preset_or_spec.strip().startswith("{"):
        preset = get_preset(preset_or_spec.strip())
        spec, preset_name = preset.spec, preset.name
    else:
        spec = parse_spec(preset_or_spec)
        preset_name = matching_preset(spec)
    lr, resize, book_acc = D2L_RECIPES[spec.family]
    batch_size = D2L_BATCH_SIZES.get(spec.family, 128)
    section = _D2L_SECTIONS[spec.family]
    printed = ("the book printed test accuracy " + f"{book_acc:.3f}" if book_acc is not None
               else "the book's printed accuracy is not recorded here")
    dataset, input_size = "fashion-mnist", resize
    if spec.in_channels == 3 and spec.input_size <= 32:  # a CIFAR-sized network (nin_cifar): keep its size
        dataset, input_size = "cifar10", spec.input_size
    config = TrainConfig(dataset=dataset, epochs=10, batch_size=batch_size, optimizer="sgd", lr=lr, weight_decay=0.0,
                         input_size=input_size, precision="fp32", channels_last=False, init="xavier",
                         augment=False)
    is_d2l = preset_name is not None and preset_name.startswith("d2l_")
    if is_d2l:
        source = (f"d2l.ai section {section} (train_ch6): SGD lr {lr:g}, batch {batch_size}, Xavier init, 10 epochs, "
                  f"resize {resize}; {printed} on Fashion-MNIST")
    else:
        named = f"preset {preset_name}" if preset_name else "this network"
        source = (f"d2l.ai section {section}'s recipe for its {spec.family} on Fashion-MNIST, applied to {named} "
                  f"(SGD lr {lr:g}, batch {batch_size}, Xavier init, 10 epochs, resize {input_size}); the original papers "
                  f"trained on ImageNet for far longer")
    summary = (f"Published recipe: plain SGD lr {lr:g}, batch {batch_size}, 10 epochs, Xavier init, {config.dataset} "
               f"resized to {input_size}. Slow to start: expect chance-level loss for the first hundreds of steps.")
    return Recipe(kind="published", config=config, source=source, summary=summary)


def short_recipe(spec: ArchSpec | Mapping[str, Any] | str | None = None, *, dataset: str = "fashion-mnist",
                 device: str = "auto") -> TrainConfig:
    """A recipe that learns in a short run: Adam lr 1e-3, 2 epochs, batch 128 (see :func:`short_recipe_info`)."""
    return short_recipe_info(spec, dataset=dataset, device=device).config


def short_recipe_info(spec: ArchSpec | Mapping[str, Any] | str | None = None, *, dataset: str = "fashion-mnist",
                      device: str = "auto") -> Recipe:
    """The short-run recipe. On a CPU the input shrinks to the smallest size the network accepts (at least 32),
    since the published 224x224 takes hours there; bf16 autocast and channels_last are on where they help; He
    initialisation, which leaves the first plateau sooner than d2l's Xavier on networks without batch norm."""
    input_size = None
    parsed = None if spec is None else (parse_spec(spec) if not isinstance(spec, str) or spec.strip().startswith("{")
                                        else get_preset(spec).spec)
    if parsed is not None and _runs_on_cpu(device):
        input_size = smallest_input_size(parsed)
    lr = SHORT_LR
    fan_in = None if parsed is None else widest_linear_fan_in(parsed.replace(input_size=input_size)
                                                              if input_size else parsed)
    if fan_in is not None and fan_in > WIDE_FAN_IN:
        lr = WIDE_LR
    # A network without linear layers (NiN: its classes are the channels of a last conv + ReLU, averaged) starts
    # with Xavier: measured on shapes, 40 steps, d2l's NiN reached 0.20 test accuracy with Xavier and 0.10 (loss
    # flat at 2.31) with He init; nin_cifar 0.22 against 0.18.
    init = "xavier" if parsed is not None and fan_in is None else "kaiming"
    config = TrainConfig(dataset=dataset, epochs=2, batch_size=128, optimizer="adam", lr=lr, input_size=input_size,
                         precision="auto", channels_last=True, init=init, device=device,
                         warmup_steps=SHORT_WARMUP_STEPS, grad_clip=SHORT_GRAD_CLIP)
    size_note = f", input resized to {input_size}" if input_size else ""
    init_name = "Xavier" if init == "xavier" else "He (Kaiming)"
    wide_note = (f" (not 1e-3: its widest linear layer takes {fan_in:,} inputs, and 1e-3 blows up there)"
                 if lr != SHORT_LR else "")
    summary = (f"Short-run recipe: Adam lr {lr:g}{wide_note} with a {SHORT_WARMUP_STEPS}-step warm-up and gradients "
               f"clipped to norm {SHORT_GRAD_CLIP:g}, batch 128, 2 epochs, {init_name} init{size_note}, bf16 autocast "
               f"where the hardware supports it. Not the published recipe (plain SGD, Xavier init), which needs "
               f"~10 epochs to leave chance level.")
    source = ("measured on a 2-core CPU: d2l's small VGG-11 on 1,500 images sat at chance for 540 steps of plain "
              "SGD lr 0.05 and reached 0.96 test accuracy after 180 steps of Adam lr 1e-3 (REFERENCE.md); on "
              "the built-in shapes (20,000 images, 32x32, 2 epochs of Adam lr 1e-3) He init reached 0.894 test "
              "accuracy and d2l's Xavier init 0.769 (Xavier halves the signal's variance at every ReLU layer, and "
              "this VGG has no batch norm)")
    return Recipe(kind="short", config=config, source=source, summary=summary)


RECIPE_KINDS = ("short", "published")


def recipe_from_choices(spec: ArchSpec | Mapping[str, Any] | str, *, recipe: str = "short",
                        dataset: str | None = None, device: str | None = None, **overrides: Any) -> Recipe:
    """The one place where a user's choices become a run's config: the CLI, the Train tab and the Python API all
    call it, so the same choices give the same settings (and, with the same seed, the same numbers).

    Args:
        spec: the network (a spec, a preset name, or anything ``parse_spec`` accepts).
        recipe: ``short`` (learns in a short run) or ``published`` (d2l's recipe for the network's family).
        dataset: the dataset; None: the recipe's (Fashion-MNIST, or CIFAR-10 for a CIFAR-sized network).
        device: ``auto``, ``cpu`` or ``cuda``; None: ``auto``. The short recipe shrinks the input on a CPU.
        overrides: TrainConfig fields set on top of the recipe; a None value means "the recipe's". Settings that
            only change how a run reports (``log_every``, ``log_seconds``, checkpoints, ``max_seconds``) leave the
            numbers as they are.

    Returns:
        The recipe, its config with the choices applied.

    Raises:
        SpecError: an unknown recipe or setting, or a value out of range (naming the field).
    """
    if recipe not in RECIPE_KINDS:
        raise SpecError("recipe", f"must be one of {', '.join(RECIPE_KINDS)}, got {recipe!r}")
    device = device or "auto"
    if recipe == "published":
        info = published_recipe_info(spec)
        config = info.config.replace(dataset=dataset or info.config.dataset, device=device)
    else:
        info = short_recipe_info(spec, dataset=dataset or "fashion-mnist", device=device)
        config = info.config
    changes = {name: value for name, value in overrides.items() if value is not None}
    if changes:
        known = set(TrainConfig.__dataclass_fields__)
        for name in changes:
            if name not in known:
                raise SpecError(name, f"unknown training setting; expected one of {', '.join(sorted(known))}")
        config = config.replace(**changes)
    return Recipe(kind=info.kind, config=config, source=info.source, summary=info.summary)


def config_from_choices(spec: ArchSpec | Mapping[str, Any] | str, *, recipe: str = "short",
                        dataset: str | None = None, device: str | None = None, **overrides: Any) -> TrainConfig:
    """:func:`recipe_from_choices`'s config: what ``python -m explorer train``, the Train tab and
    ``train(spec, config_from_choices(spec, ...))`` run for the same choices."""
    return recipe_from_choices(spec, recipe=recipe, dataset=dataset, device=device, **overrides).config


def widest_linear_fan_in(spec: ArchSpec) -> int | None:
    """The most inputs any linear layer of the network takes (None without linear layers); built on the meta
    device, so no memory is used."""
    import torch

    from ..models import build_model

    with torch.device("meta"):
        model = build_model(spec)
    fan_ins = [module.in_features for module in model.modules() if isinstance(module, torch.nn.Linear)]
    return max(fan_ins) if fan_ins else None


def smallest_input_size(spec: ArchSpec, candidates: tuple[int, ...] = CPU_INPUT_SIZES) -> int | None:
    """The smallest candidate size the spec accepts, if smaller than its own input size."""
    for size in candidates:
        if size >= spec.input_size:
            return None
        try:
            spec.replace(input_size=size)
        except SpecError:
            continue
        return size
    return None


def matching_preset(spec: ArchSpec) -> str | None:
    """The name of a preset with the same architecture (input size aside), if any."""
    wanted = _architecture(spec.to_dict())
    for preset in list_presets():
        if _architecture(preset.spec.to_dict()) == wanted:
            return preset.name
    return None


def _architecture(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "input_size"}


def _runs_on_cpu(device: str) -> bool:
    if device == "cpu":
        return True
    if device == "cuda":
        return False
    import torch

    return not torch.cuda.is_available()
