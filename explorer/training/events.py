"""The typed events a training run yields. Each has ``to_dict()`` with an ``"event"`` key.

The order of a run: one ``start``; ``step`` every few steps; after each epoch an ``eval`` then an ``epoch``;
finally ``done`` (or ``error``, after which the run stops).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union


@dataclass(frozen=True)
class _Event:
    event: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the event kind under ``"event"``."""
        return {"event": self.event, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class StartEvent(_Event):
    """What is about to be trained, on what and where."""

    event: ClassVar[str] = "start"
    family: str
    dataset: str
    classes: list[str]
    num_train: int
    num_test: int
    input_shape: list[int]  # (C, H, W) the model sees
    device: str
    precision: str  # what autocast does: "fp32" or "bf16"
    channels_last: bool
    steps_per_epoch: int
    total_steps: int
    epochs: int
    total_params: int
    estimated_memory_bytes: int  # modelled peak of a step (explorer.training.memory) plus the data on the device
    world_size: int = 1
    notes: list[str] = field(default_factory=list)  # adaptations and warnings, in words
    memory_estimate: dict[str, Any] = field(default_factory=dict)  # the estimate term by term (MemoryEstimate)


@dataclass(frozen=True)
class StepEvent(_Event):
    """Progress within an epoch; the loss and accuracy are running means over the epoch so far."""

    event: ClassVar[str] = "step"
    step: int  # optimizer steps so far, over the whole run
    total_steps: int
    epoch: int  # 1-based
    epochs: int
    epoch_step: int  # steps so far in this epoch
    steps_per_epoch: int
    loss: float  # mean main-head training loss this epoch
    train_acc: float  # training accuracy this epoch (on augmented batches, in training mode)
    examples_per_s: float  # since the previous StepEvent
    elapsed_s: float  # since the run started (data loading included)
    eta_s: float  # estimated seconds left, evaluation included

    @property
    def progress(self) -> float:
        return self.step / self.total_steps if self.total_steps else 1.0


@dataclass(frozen=True)
class EvalEvent(_Event):
    """An evaluation of the whole test split (``model.eval()``, no gradients)."""

    event: ClassVar[str] = "eval"
    epoch: int
    step: int
    test_loss: float
    test_acc: float
    num_examples: int
    seconds: float  # how long the evaluation took
    elapsed_s: float


@dataclass(frozen=True)
class EpochEvent(_Event):
    """The end of an epoch (or of the run, when max_steps stops it mid-epoch)."""

    event: ClassVar[str] = "epoch"
    epoch: int
    epochs: int
    step: int
    train_loss: float
    train_acc: float
    test_acc: float | None
    examples_per_s: float  # training examples per second this epoch (evaluation excluded)
    elapsed_s: float
    eta_s: float


@dataclass(frozen=True)
class SamplePrediction:
    """One test image with its label and the model's prediction."""

    index: int  # position in the test split
    label: int
    prediction: int
    confidence: float  # softmax probability of the prediction
    image: list  # uint8 pixels as nested lists, H x W (grayscale) or H x W x 3, at the dataset's resolution


@dataclass(frozen=True)
class DoneEvent(_Event):
    """The final results."""

    event: ClassVar[str] = "done"
    epochs_completed: int
    steps: int
    train_loss: float
    train_acc: float
    test_loss: float
    test_acc: float
    classes: list[str]
    per_class_accuracy: list[float | None]  # None for a class with no test examples
    confusion_matrix: list[list[int]]  # rows: true class, columns: predicted class
    samples: list[SamplePrediction]
    examples_per_s: float  # training examples per second over the run (evaluation excluded)
    train_seconds: float
    elapsed_s: float
    # CUDA: torch.cuda.max_memory_allocated, less what was allocated when the run started; CPU: RSS growth
    peak_memory_bytes: int | None
    peak_memory_kind: str  # "cuda max allocated", "process RSS growth" or "unknown"
    estimated_memory_bytes: int  # the pre-launch estimate (as in the StartEvent), for comparison
    checkpoint_path: str | None
    stopped_early: bool = False  # max_steps ended the run before the last epoch
    notes: list[str] = field(default_factory=list)
    # CUDA only (else None): the first step's peak (cuDNN autotuning, optimizer state created) and the peak of
    # the steps after it, which is what the estimate models
    peak_memory_first_step_bytes: int | None = None
    peak_memory_steady_bytes: int | None = None

    def to_dict(self, *, include_images: bool = True) -> dict[str, Any]:
        data = super().to_dict()
        if not include_images:
            for sample in data["samples"]:
                sample.pop("image", None)
        return data


@dataclass(frozen=True)
class ErrorEvent(_Event):
    """A run that failed; the run's memory has been released before this is yielded."""

    event: ClassVar[str] = "error"
    message: str  # what went wrong and what to do, in words
    kind: str  # "config", "dataset", "out of memory", "device", "diverged" (the loss exploded), "runtime"
    field: str = ""  # the setting at fault, when one is
    step: int = 0
    elapsed_s: float = 0.0
    message_zh: str = ""  # the same facts and numbers in Simplified Chinese; empty when none was written

    def message_for(self, zh: bool = False) -> str:
        """The message in Chinese when ``zh`` and there is one, otherwise in English."""
        return self.message_zh if zh and self.message_zh else self.message


TrainEvent = Union[StartEvent, StepEvent, EvalEvent, EpochEvent, DoneEvent, ErrorEvent]
