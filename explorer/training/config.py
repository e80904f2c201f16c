"""What a training run is asked to do: :class:`TrainConfig`, a frozen dataclass validated on construction."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from ..specs import SpecError
from ..specs.fields import check_bool, check_choice, check_float, check_int, check_optional_int, describe

#: Dataset names (see :mod:`explorer.training.data`). ``shapes`` is built in and needs no download.
DATASET_NAMES = ("fashion-mnist", "mnist", "cifar10", "shapes", "shapes-color")
OPTIMIZERS = ("sgd", "momentum", "adam")
#: ``auto`` is bf16 autocast on CUDA with bf16 support and on CPUs with AMX/AVX512-bf16, else fp32.
PRECISIONS = ("fp32", "bf16", "auto")
DEVICES = ("auto", "cpu", "cuda")
#: ``xavier``: d2l's ``nn.init.xavier_uniform_`` on every conv and linear weight; ``kaiming``: He-normal weights
#: and zero biases; ``default``: PyTorch's own initialisation.
INITS = ("xavier", "kaiming", "default")
_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar-10": "cifar10",
            "cifar_10": "cifar10", "shapes_color": "shapes-color", "shapes-rgb": "shapes-color"}
MAX_EPOCHS = 1_000
MAX_BATCH = 65_536
MAX_STEPS = 10_000_000
MAX_SUBSET = 10_000_000


def normalize_dataset_name(name: Any) -> str:
    """``"Fashion_MNIST"`` -> ``"fashion-mnist"``; raises SpecError for unknown names."""
    if isinstance(name, str):
        key = name.strip().lower()
        key = _ALIASES.get(key, key)
        if key in DATASET_NAMES:
            return key
    raise SpecError("dataset", f"must be one of {', '.join(DATASET_NAMES)}, got {describe(name)}")


@dataclass(frozen=True)
class TrainConfig:
    """One training run's settings. Every field is checked on construction (SpecError names the field).

    Build one from a user's choices with :func:`explorer.training.recipes.config_from_choices` (the CLI, the Train
    tab and ``train(spec)`` all do), which starts from the recipe for the network: the short recipe adds a
    learning-rate warm-up, gradient clipping, a lower rate for very wide classifiers and the device's input size
    and precision to these bare defaults (Adam at lr 1e-3 for 2 epochs with He initialisation; plain SGD at d2l's
    learning rates stays at chance for hundreds of steps on small data).
    """

    dataset: str = "fashion-mnist"  # one of DATASET_NAMES
    data_dir: str | None = None  # torchvision's layout; None: $EXPLORER_DATA_DIR or ~/.cache/cnn-explorer/data
    download: bool = True  # download a missing torchvision dataset (only tried when it is not on disk)
    epochs: int = 2
    batch_size: int = 128
    optimizer: str = "adam"  # sgd (plain, as d2l), momentum (SGD with momentum), adam
    lr: float = 1e-3
    momentum: float = 0.9  # only used by optimizer="momentum"
    # Linear learning-rate warm-up: step k (1-based) of the first warmup_steps uses lr * k / warmup_steps. Deep
    # networks without batch norm take Adam's first full-size steps badly (VGG-16: loss 3.7 -> 71 at step 2).
    warmup_steps: int = 0
    grad_clip: float | None = None  # clip the gradients' total L2 norm to this before each step (None: off)
    weight_decay: float = 0.0
    input_size: int | None = None  # resize images to this (None: the spec's input_size)
    max_steps: int | None = None  # stop after this many optimizer steps (then evaluate)
    precision: str = "fp32"  # fp32, bf16 (autocast), auto
    channels_last: bool = False  # NHWC memory format for the model and every batch
    compile: bool = False  # torch.compile the model (first steps are slow while it compiles)
    aux_weight: float = 0.3  # GoogLeNet: loss = main + aux_weight * (aux1 + aux2), as in the paper
    tta_flip: bool = False  # evaluate on each image and its mirror image, averaging the logits
    augment: bool = False  # random crop with zero padding (size // 8) and, where the dataset allows, flips
    flip: bool | None = None  # horizontal flips when augmenting; None: the dataset's default (off for digits)
    seed: int = 0  # weights, shuffling and augmentation; the same seed gives the same run on one machine
    device: str = "auto"  # auto (CUDA when available), cpu, cuda
    train_subset: int | None = None  # train on this many examples (a random subset; shapes draws this many)
    test_subset: int | None = None  # evaluate on this many examples
    init: str = "kaiming"  # kaiming (He-normal; learns sooner in short runs), xavier (d2l's), default (PyTorch's)
    checkpoint_dir: str | None = None  # None: $EXPLORER_CHECKPOINT_DIR or <tempdir>/cnn-explorer/checkpoints
    save_checkpoint: bool = True
    log_every: int = 10  # a StepEvent every this many steps (and at the end of each epoch)
    log_seconds: float | None = None  # also one when this many seconds passed since the last (a live UI)
    # Stop training after this many seconds of wall time, then evaluate (a server's bound on one run; applies to
    # single-process runs, since one rank stopping alone would leave the others waiting).
    max_seconds: float | None = None
    num_samples: int = 16  # sample predictions in the DoneEvent (half wrong ones where there are)

    def __post_init__(self) -> None:
        set_ = self._set
        set_("dataset", normalize_dataset_name(self.dataset))
        if self.data_dir is not None and (not isinstance(self.data_dir, str) or not self.data_dir.strip()):
            raise SpecError("data_dir", f"expected a folder path, got {describe(self.data_dir)}")
        set_("download", check_bool(self.download, "download"))
        set_("epochs", check_int(self.epochs, "epochs", minimum=1, maximum=MAX_EPOCHS))
        set_("batch_size", check_int(self.batch_size, "batch_size", minimum=1, maximum=MAX_BATCH))
        set_("optimizer", check_choice(self.optimizer, "optimizer", OPTIMIZERS))
        set_("lr", check_float(self.lr, "lr", minimum=0.0, maximum=10.0, include_minimum=False))
        set_("warmup_steps", check_int(self.warmup_steps, "warmup_steps", minimum=0, maximum=MAX_STEPS))
        if self.grad_clip is not None:
            set_("grad_clip", check_float(self.grad_clip, "grad_clip", minimum=0.0, maximum=1e6,
                                          include_minimum=False))
        set_("momentum", check_float(self.momentum, "momentum", minimum=0.0, maximum=1.0, include_maximum=False))
        set_("weight_decay", check_float(self.weight_decay, "weight_decay", minimum=0.0, maximum=1.0))
        set_("input_size", check_optional_int(self.input_size, "input_size", minimum=8, maximum=1024))
        set_("max_steps", check_optional_int(self.max_steps, "max_steps", minimum=1, maximum=MAX_STEPS))
        set_("precision", check_choice(self.precision, "precision", PRECISIONS))
        set_("channels_last", check_bool(self.channels_last, "channels_last"))
        set_("compile", check_bool(self.compile, "compile"))
        set_("aux_weight", check_float(self.aux_weight, "aux_weight", minimum=0.0, maximum=10.0))
        set_("tta_flip", check_bool(self.tta_flip, "tta_flip"))
        set_("augment", check_bool(self.augment, "augment"))
        if self.flip is not None:
            set_("flip", check_bool(self.flip, "flip"))
        set_("seed", check_int(self.seed, "seed", minimum=0, maximum=2**63 - 1))
        set_("device", check_choice(self.device, "device", DEVICES))
        set_("train_subset", check_optional_int(self.train_subset, "train_subset", minimum=1, maximum=MAX_SUBSET))
        set_("test_subset", check_optional_int(self.test_subset, "test_subset", minimum=1, maximum=MAX_SUBSET))
        set_("init", check_choice(self.init, "init", INITS))
        if self.checkpoint_dir is not None and (not isinstance(self.checkpoint_dir, str)
                                                or not self.checkpoint_dir.strip()):
            raise SpecError("checkpoint_dir", f"expected a folder path, got {describe(self.checkpoint_dir)}")
        set_("save_checkpoint", check_bool(self.save_checkpoint, "save_checkpoint"))
        set_("log_every", check_int(self.log_every, "log_every", minimum=1, maximum=MAX_STEPS))
        if self.log_seconds is not None:
            set_("log_seconds", check_float(self.log_seconds, "log_seconds", minimum=0.0, maximum=3600.0))
        if self.max_seconds is not None:
            set_("max_seconds", check_float(self.max_seconds, "max_seconds", minimum=1.0, maximum=7 * 24 * 3600.0))
        set_("num_samples", check_int(self.num_samples, "num_samples", minimum=0, maximum=256))

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with some fields changed (validated like any new config)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        """A config from a mapping; unknown keys raise SpecError."""
        if not isinstance(data, Mapping):
            raise SpecError("config", f"expected an object with named fields, got {describe(data)}")
        names = {field.name for field in dataclasses.fields(cls)}
        for key in data:
            if key not in names:
                raise SpecError(str(key), f"unknown training setting; expected one of {', '.join(sorted(names))}")
        return cls(**data)
