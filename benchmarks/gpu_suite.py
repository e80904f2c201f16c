"""Every GPU check of issue #11 in one command: speed, memory, a real CUDA out-of-memory, NVML, CUDA tests.

    PYTHONUNBUFFERED=1 python3 benchmarks/gpu_suite.py --out DIR [--quick] [--budget SECONDS] [--sections a,b]

Sections run in priority order, each inside a try/except (a failure is recorded with its traceback and the
next section runs) and under one time budget (default 270 s): a section that would start too late is skipped
with a note. ``DIR/gpu_suite.json`` is rewritten after every section, so a run cut short still leaves what it
measured; ``DIR/gpu_suite.log`` holds everything printed. A watchdog dumps every thread's stack to the log and
exits when the budget is overrun by ``--grace`` seconds.

1. ``environment``: versions, the GPU, cuDNN, TF32 switches, which optional packages import.
2. ``speed`` (the headline): d2l's four Fashion-MNIST setups at their published sizes (VGG-11 with channels / 4
   and AlexNet and NiN at 224, GoogLeNet at 96), batch 128, on 1x28x28 images (the built-in ``shapes`` at 28 px,
   60,000 of them). (a) the tutorial loop, as d2l's ``train_ch6``: a DataLoader with 4 workers over PIL images,
   per-sample ``Resize`` + ``ToTensor``, fp32, NCHW, plain SGD, a host sync per step for the metrics; (b) the
   project's engine (:func:`explorer.training.train`): data on the GPU, per-batch ``F.interpolate``,
   channels_last, bf16 autocast. Throughput is examples/s over fixed timed steps after warm-up, with the GPU
   synchronised at both ends. Setups that miss the goal (b >= 5x a, b >= 25,000/s) are profiled.
3. ``memory``: the pre-launch estimate (:mod:`explorer.training.memory`) against ``torch.cuda.max_memory_allocated``
   for the four setups at batch 128, fp32 and bf16, through the engine's events, plus a per-phase breakdown.
4. ``oom``: a run far too large: the pre-launch check refuses it; forced past the check it ends with the
   "Out of memory on cuda:0" event, the memory comes back, and a normal run works right after.
5. ``correctness``: ``python3 -m explorer train d2l_vgg11_small --dataset shapes --device cuda --json`` in bf16
   and fp32 (2 epochs at 32 px, as measured on the CPU for comparison) and in bf16 at 224.
6. ``nvml``: the sampler (:mod:`explorer.gpu`) beside ``nvidia-smi`` in the same second, idle, under a training
   load and after it; the sampler's cost.
7. ``pytest``: the CUDA tests (``tests/test_cuda.py`` and the CUDA/NVML tests of two other modules).
8. ``compile``: the engine path with ``torch.compile`` in a child process per setup (compile time apart).

Without CUDA (or with ``--quick``) the CUDA-only parts are skipped with a reason and the rest runs at toy sizes,
so every code path is exercised in seconds. Nothing here needs plotly or gradio.
"""
from __future__ import annotations

import argparse
import faulthandler
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

SCHEMA_VERSION = 1
#: d2l's published training throughput on a V100 (examples/s), Fashion-MNIST, batch 128, fp32.
D2L_V100 = {"d2l_alexnet": 3941.8, "d2l_vgg11_small": 2463.7, "d2l_nin": 3087.6, "d2l_googlenet": 3265.5}
#: (label, preset, input size d2l trains it at)
SETUPS = (("VGG-11/4", "d2l_vgg11_small", 224), ("AlexNet", "d2l_alexnet", 224), ("NiN", "d2l_nin", 224),
          ("GoogLeNet", "d2l_googlenet", 96))
SPEED_GOAL_RATIO = 5.0
SPEED_GOAL_EXAMPLES = 25_000.0
MEMORY_GOAL = (0.85, 1.15)
NVIDIA_SMI_FIELDS = ("utilization.gpu", "memory.used", "memory.total", "power.draw", "temperature.gpu", "clocks.sm",
                     "clocks.mem", "pstate")
SECTION_STATUSES = ("ok", "failed", "skipped", "partial")
#: Seconds the NVML section waits: between idle readings, for the training load to start (data, model, cuDNN
#: autotuning), between readings under load, and for the GPU to fall idle after it (tests set them to 0).
NVML_WAITS = {"idle_gap": 0.7, "load_start": 4.0, "load_gap": 0.8, "cooldown": 2.0}
#: The CUDA tests the pytest section runs on a GPU (modules that import neither gradio nor plotly).
CUDA_TESTS = ("tests/test_cuda.py", "tests/test_gpu.py",
              "tests/test_training_engine.py::test_cuda_run_with_bf16_channels_last_frees_memory")
MIB = 2**20
GIB = 2**30


# ---------------------------------------------------------------------------------------------------------------
# Output: a log mirrored to stdout, tables, the JSON written after every section


class Log:
    """Print to stdout (flushed) and append to the log file."""

    def __init__(self, path: Path) -> None:
        self.file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed at exit

    def __call__(self, *parts: Any) -> None:
        text = " ".join(str(part) for part in parts)
        print(text, flush=True)
        self.file.write(text + "\n")

    def table(self, headers: list[str], rows: list[list[Any]], title: str | None = None) -> None:
        """A Markdown table."""
        if title:
            self(f"\n{title}")
        cells = [[_cell(value) for value in row] for row in rows]
        widths = [max([len(header)] + [len(row[index]) for row in cells]) for index, header in enumerate(headers)]
        self("| " + " | ".join(header.ljust(widths[index]) for index, header in enumerate(headers)) + " |")
        self("|" + "|".join("-" * (width + 2) for width in widths) + "|")
        for row in cells:
            self("| " + " | ".join(value.ljust(widths[index]) for index, value in enumerate(row)) + " |")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}"
    return str(value)


def _finite(value: Any) -> Any:
    """NaN and infinities become None, so the JSON is strict."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


@dataclass
class Section:
    """One section's record in the JSON."""

    name: str
    status: str = "skipped"
    reason: str | None = None
    seconds: float = 0.0
    results: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)  # {"where", "error", "traceback"}

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "seconds": round(self.seconds, 2),
                "results": self.results, "notes": self.notes, "errors": self.errors}


class Suite:
    """The run: budget, sections, goals, the JSON."""

    def __init__(self, out: Path, *, quick: bool, budget: float, cuda: bool, argv: list[str]) -> None:
        self.out = out
        self.quick = quick
        self.budget = budget
        self.cuda = cuda
        self.started = time.monotonic()
        self.started_wall = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.argv = argv
        self.log = Log(out / "gpu_suite.log")
        self.sections: dict[str, Section] = {}
        self.goals: dict[str, dict[str, Any]] = {}
        self.environment: dict[str, Any] = {}
        self.current: Section | None = None
        self.lock = threading.Lock()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return self.budget - self.elapsed()

    def run(self, name: str, function: Callable[["Suite", Section], None], *, min_seconds: float,
            skip_reason: str | None = None) -> Section:
        """Run a section unless skipped, recording its status, time and any exception."""
        section = self.sections[name] = Section(name)
        self.log(f"\n=== {name} (t={self.elapsed():.0f}s, {self.remaining():.0f}s left) ===")
        if skip_reason:
            section.reason = skip_reason
            self.log(f"skipped: {skip_reason}")
            self.write()
            return section
        if self.remaining() < min_seconds:
            section.reason = (f"time budget: {self.remaining():.0f} s left of {self.budget:.0f} s, this section "
                              f"needs about {min_seconds:.0f} s")
            self.log(f"skipped: {section.reason}")
            self.write()
            return section
        start = time.monotonic()
        self.current = section
        section.status = "ok"
        try:
            function(self, section)
        except Exception as exc:  # noqa: BLE001 - recorded; the next section runs
            section.status = "failed"
            self.record_error(section, "section", exc)
        finally:
            self.current = None
            section.seconds = time.monotonic() - start
            if section.status == "ok" and section.errors:
                section.status = "partial"
            _release_cuda()
            self.write()
        self.log(f"--- {name}: {section.status} in {section.seconds:.1f} s")
        return section

    def record_error(self, section: Section, where: str, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        section.errors.append({"where": where, "error": f"{type(exc).__name__}: {exc}"[:2000],
                               "traceback": text[-8000:]})
        self.log(f"ERROR in {section.name} / {where}: {type(exc).__name__}: {str(exc)[:500]}")

    def goal(self, key: str, description: str, value: float | None, met: bool | None, detail: str = "") -> None:
        self.goals[key] = {"goal": description, "value": value, "met": met, "detail": detail}

    def to_dict(self) -> dict[str, Any]:
        return _finite({
            "suite": {"schema": SCHEMA_VERSION, "started": self.started_wall, "elapsed_s": round(self.elapsed(), 2),
                      "budget_s": self.budget, "quick": self.quick, "cuda": self.cuda, "argv": self.argv},
            "environment": self.environment,
            "sections": {name: section.to_dict() for name, section in self.sections.items()},
            "goals": self.goals,
        })

    def write(self) -> None:
        with self.lock:
            data = self.to_dict()
            path = self.out / "gpu_suite.json"
            temporary = path.with_suffix(".json.tmp")
            temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(temporary, path)


def _release_cuda() -> None:
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _mib(num_bytes: float | None) -> float | None:
    return None if num_bytes is None else num_bytes / MIB


# ---------------------------------------------------------------------------------------------------------------
# 1. environment


def section_environment(suite: Suite, section: Section) -> None:
    import importlib.util

    env: dict[str, Any] = {
        "python": sys.version.split()[0], "executable": sys.executable, "platform": platform.platform(),
        "cpu_count": os.cpu_count(), "torch": torch.__version__, "torch_cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(), "cudnn": torch.backends.cudnn.version()
        if torch.backends.cudnn.is_available() else None,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "pythonpath": os.environ.get("PYTHONPATH", ""),
        "packages": {name: importlib.util.find_spec(name) is not None
                     for name in ("torchvision", "torchinfo", "pynvml", "psutil", "PIL", "pytest", "triton",
                                  "plotly", "gradio")},
    }
    try:
        import torchvision

        env["torchvision"] = torchvision.__version__
    except Exception as exc:  # noqa: BLE001
        env["torchvision"] = f"unavailable: {exc}"
    try:
        import torchinfo

        env["torchinfo"] = getattr(torchinfo, "__version__", "?")
        env["torchinfo_path"] = str(Path(torchinfo.__file__).parent)
    except Exception as exc:  # noqa: BLE001
        env["torchinfo"] = f"unavailable: {exc}"
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env["gpu"] = {"name": props.name, "capability": f"{props.major}.{props.minor}",
                      "total_memory_bytes": int(props.total_memory),
                      "multiprocessors": props.multi_processor_count, "device_count": torch.cuda.device_count(),
                      "bf16_supported": torch.cuda.is_bf16_supported()}
    smi = shutil.which("nvidia-smi")
    env["nvidia_smi"] = smi
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total,persistence_mode,compute_mode",
                                  "--format=csv,noheader"], capture_output=True, text=True, timeout=10)
            env["nvidia_smi_gpu"] = out.stdout.strip() or out.stderr.strip()
        except Exception as exc:  # noqa: BLE001
            env["nvidia_smi_gpu"] = f"failed: {exc}"
    suite.environment = env
    section.results = env
    rows = [["python", env["python"]], ["torch", f"{env['torch']} (CUDA {env['torch_cuda']}, cuDNN {env['cudnn']})"],
            ["torchvision / torchinfo", f"{env['torchvision']} / {env['torchinfo']}"],
            ["GPU", env.get("gpu", {}).get("name", "none") if env.get("gpu") else "none (CUDA not available)"],
            ["nvidia-smi", env.get("nvidia_smi_gpu", "not found")],
            ["TF32 (cuDNN / matmul)", f"{env['cudnn_allow_tf32']} / {env['matmul_allow_tf32']}"],
            ["plotly / gradio importable", f"{env['packages']['plotly']} / {env['packages']['gradio']}"]]
    suite.log.table(["what", "value"], rows)


# ---------------------------------------------------------------------------------------------------------------
# 2. speed


@dataclass
class SpeedPlan:
    """Sizes and step counts of the speed section (smaller in --quick / CPU mode)."""

    batch: int
    train_images: int
    warmup_a: int
    timed_a: int
    warmup_b: int
    timed_b: int
    workers: int
    loader_batches: int
    sizes: dict[str, int]
    setups: tuple[tuple[str, str, int], ...]


def speed_plan(suite: Suite) -> SpeedPlan:
    if suite.cuda and not suite.quick:
        return SpeedPlan(batch=128, train_images=60_000, warmup_a=5, timed_a=30, warmup_b=20, timed_b=100,
                         workers=4, loader_batches=20, sizes={preset: size for _, preset, size in SETUPS},
                         setups=SETUPS)
    from explorer import load_preset
    from explorer.training.recipes import smallest_input_size

    sizes = {}
    for _, preset, size in SETUPS:
        sizes[preset] = smallest_input_size(load_preset(preset)) or size
    setups = SETUPS if suite.cuda else (SETUPS[0], SETUPS[3])  # the CPU dry run: two setups at toy sizes
    return SpeedPlan(batch=8, train_images=256, warmup_a=1, timed_a=2, warmup_b=1, timed_b=2, workers=1,
                     loader_batches=2, sizes=sizes, setups=setups)


def d2l_lr(preset: str) -> float:
    from explorer import load_preset
    from explorer.training.recipes import D2L_RECIPES

    return D2L_RECIPES[load_preset(preset).family][0]


def tutorial_loop(preset: str, size: int, plan: SpeedPlan, device: torch.device) -> dict[str, Any]:
    """d2l's train_ch6 data path and loop: DataLoader(4 workers) over PIL images, Resize + ToTensor, fp32, NCHW,
    SGD, Xavier init; ``float()`` of the loss and accuracy every step (a host sync, as d2l's Accumulator)."""
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    from explorer import build_model, load_preset
    from explorer.training.data import load_dataset

    class FashionLike(Dataset):
        """What torchvision's FashionMNIST does per item: a PIL image from a uint8 28x28 array, then transform."""

        def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Any) -> None:
            self.images = images[:, 0].numpy()
            self.labels = labels.tolist()
            self.transform = transform

        def __len__(self) -> int:
            return len(self.labels)

        def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
            return self.transform(Image.fromarray(self.images[index])), self.labels[index]

    data = load_dataset("shapes", train=True, limit=plan.train_images)
    transform = transforms.Compose([transforms.Resize(size), transforms.ToTensor()])
    dataset = FashionLike(data.images, data.labels, transform)
    torch.backends.cudnn.benchmark = False  # d2l leaves PyTorch's defaults (the engine turns it on)
    spec = load_preset(preset).replace(input_size=size)
    torch.manual_seed(0)
    net = build_model(spec)
    for module in net.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
            torch.nn.init.xavier_uniform_(module.weight)
    net.to(device).train()
    optimizer = torch.optim.SGD(net.parameters(), lr=d2l_lr(preset))
    loss_fn = torch.nn.CrossEntropyLoss()
    from explorer.models import main_logits

    def loader() -> DataLoader:
        return DataLoader(dataset, batch_size=plan.batch, shuffle=True, num_workers=plan.workers)

    steps = plan.warmup_a + plan.timed_a
    start = None
    examples = 0
    loss_sum = 0.0
    for step, (images, labels) in enumerate(loader(), 1):
        optimizer.zero_grad()
        images, labels = images.to(device), labels.to(device)
        logits = main_logits(net(images))
        loss = loss_fn(logits, labels)
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # d2l: metric.add(l * X.shape[0], d2l.accuracy(y_hat, y), X.shape[0])
            loss_sum += float(loss) * images.shape[0]
            float((logits.argmax(dim=1) == labels).sum())
        if step == plan.warmup_a:
            _sync(device)
            start = time.perf_counter()
        elif step > plan.warmup_a:
            examples += int(labels.shape[0])
        if step >= steps:
            break
    _sync(device)
    seconds = time.perf_counter() - (start or time.perf_counter())
    # The loader alone (no model): the ceiling of this data path.
    count, loader_start, loader_seconds = 0, None, 0.0
    for index, (images, _labels) in enumerate(loader(), 1):
        if index == 2:
            loader_start = time.perf_counter()
        elif index > 2:
            count += int(images.shape[0])
        if index >= plan.loader_batches + 2:
            break
    loader_seconds = time.perf_counter() - (loader_start or time.perf_counter())
    del net, optimizer
    return {"examples_per_s": examples / max(seconds, 1e-9), "timed_steps": plan.timed_a, "seconds": seconds,
            "loader_only_examples_per_s": count / max(loader_seconds, 1e-9) if count else None,
            "workers": plan.workers, "final_loss": loss_sum / max(steps * plan.batch, 1)}


def engine_config(preset: str, size: int, plan: SpeedPlan, device: torch.device, *, compile_model: bool = False,
                  precision: str = "bf16", channels_last: bool = True) -> Any:
    from explorer.training import TrainConfig

    steps = plan.warmup_b + plan.timed_b
    return TrainConfig(dataset="shapes", train_subset=plan.train_images, test_subset=plan.batch * 2, epochs=1,
                       batch_size=plan.batch, optimizer="sgd", lr=d2l_lr(preset), init="xavier", input_size=size,
                       precision=precision, channels_last=channels_last, device=device.type, max_steps=steps,
                       log_every=math.gcd(plan.warmup_b, steps), save_checkpoint=False, num_samples=0,
                       compile=compile_model, seed=0)


def engine_path(preset: str, size: int, plan: SpeedPlan, device: torch.device, **options: Any) -> dict[str, Any]:
    """The project's engine, as a user runs it (``train()``), timed from its own step events (each synchronises)."""
    from explorer import load_preset
    from explorer.training import DoneEvent, ErrorEvent, StartEvent, StepEvent, train

    config = engine_config(preset, size, plan, device, **options)
    marks: dict[int, float] = {}
    start_event = done = None
    for event in train(load_preset(preset), config):
        if isinstance(event, StartEvent):
            start_event = event
        elif isinstance(event, StepEvent):
            marks[event.step] = event.elapsed_s
        elif isinstance(event, DoneEvent):
            done = event
        elif isinstance(event, ErrorEvent):
            raise RuntimeError(f"engine run failed: {event.kind}: {event.message}")
    assert done is not None and start_event is not None
    last = plan.warmup_b + plan.timed_b
    seconds = marks[last] - marks[plan.warmup_b]
    return {"examples_per_s": plan.timed_b * plan.batch / max(seconds, 1e-9), "timed_steps": plan.timed_b,
            "seconds": seconds, "seconds_to_first_mark": marks[plan.warmup_b], "device": start_event.device,
            "precision": start_event.precision, "channels_last": start_event.channels_last,
            "input_shape": start_event.input_shape, "peak_memory_bytes": done.peak_memory_bytes,
            "train_loss": done.train_loss}


def manual_step(preset: str, size: int, plan: SpeedPlan, device: torch.device) -> Callable[[], None]:
    """One training step of the engine's path, built from the project's own pieces (for the profiler)."""
    from explorer import load_preset
    from explorer.models import build_model
    from explorer.training.data import load_dataset, make_pipeline
    from explorer.training.devices import autocast
    from explorer.training.engine import forward_loss, init_weights, make_optimizer

    torch.backends.cudnn.benchmark = device.type == "cuda"
    config = engine_config(preset, size, plan, device)
    spec = load_preset(preset).replace(input_size=size)
    data = load_dataset("shapes", train=True, limit=plan.train_images).to(device)
    pipeline = make_pipeline(data.images, model_channels=spec.in_channels, input_size=size, augment=False,
                             flip=False, channels_last=True)
    torch.manual_seed(0)
    model = build_model(spec)
    init_weights(model, config.init)
    model = model.to(device).to(memory_format=torch.channels_last).train()
    optimizer = make_optimizer(model.parameters(), config)
    generator = torch.Generator(device=device).manual_seed(0)

    def step() -> None:
        indices = torch.randint(0, len(data), (plan.batch,), device=device, generator=generator)
        images = pipeline(data.images[indices], train=True, generator=generator)
        with autocast(device, "bf16"):
            loss, _, _ = forward_loss(model, images, data.labels[indices], config.aux_weight)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def profile_engine_step(preset: str, size: int, plan: SpeedPlan, device: torch.device, *,
                        steps: int = 5) -> dict[str, Any]:
    """What bounds the engine's step: the top-10 GPU kernels and the top-10 operators by GPU time over a few
    profiled steps, the GPU's busy share of the wall time, and the same loop unprofiled for comparison with
    the engine's own loop (what its bookkeeping costs)."""
    from torch.profiler import ProfilerActivity, profile

    step = manual_step(preset, size, plan, device)
    for _ in range(5):
        step()
    _sync(device)
    start = time.perf_counter()
    timed = 20 if device.type == "cuda" else 2
    for _ in range(timed):
        step()
    _sync(device)
    loop_rate = timed * plan.batch / (time.perf_counter() - start)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        _sync(device)
    events = list(prof.events())
    kernels = [event for event in events if _is_device_event(event)]
    host = [event for event in events if not _is_device_event(event)]
    wall_us = None
    if host:
        wall_us = max(event.time_range.end for event in events) - min(event.time_range.start for event in host)
    by_kernel: dict[str, list[float]] = {}
    for event in kernels:
        by_kernel.setdefault(event.name, []).append(float(event.time_range.end - event.time_range.start))
    kernel_us = sum(sum(times) for times in by_kernel.values())
    top_kernels = [{"name": name[:160], "device_us_per_step": sum(times) / steps, "calls_per_step": len(times) / steps,
                    "share": sum(times) / kernel_us if kernel_us else None}
                   for name, times in sorted(by_kernel.items(), key=lambda item: -sum(item[1]))[:10]]
    ops = [average for average in prof.key_averages() if not _is_device_event(average)]
    ops.sort(key=lambda average: (_self_device_us(average), float(getattr(average, "self_cpu_time_total", 0.0))),
             reverse=True)
    top_ops = [{"name": average.key[:120], "self_device_us_per_step": _self_device_us(average) / steps,
                "calls_per_step": average.count / steps,
                "self_cpu_us_per_step": float(getattr(average, "self_cpu_time_total", 0.0)) / steps}
               for average in ops[:10]]
    busy = (kernel_us / wall_us) if wall_us and kernels else None
    if busy is None:
        verdict = "no GPU kernels recorded"
    elif busy < 0.6:
        verdict = (f"host-bound: the GPU runs kernels {busy:.0%} of the wall time; launches and Python between "
                   f"them dominate")
    else:
        names = " ".join(kernel["name"].lower() for kernel in top_kernels[:3])
        kind = "convolution" if any(word in names for word in ("conv", "cudnn", "xmma", "implicit", "dgrad",
                                                                "wgrad", "fprop")) else "other"
        verdict = f"device-bound: the GPU runs kernels {busy:.0%} of the wall time; the top kernels are {kind}"
    return {"profiled_steps": steps, "kernel_us_per_step": kernel_us / steps,
            "wall_us_per_step": (wall_us / steps) if wall_us else None, "device_busy_fraction": busy,
            "kernels_per_step": len(kernels) / steps, "manual_loop_examples_per_s": loop_rate,
            "top_kernels": top_kernels, "top_ops": top_ops, "verdict": verdict}


def _is_device_event(event: Any) -> bool:
    """A kernel, copy or memset on the GPU (not a host-side operator)."""
    kind = getattr(event, "device_type", None)
    return kind is not None and getattr(kind, "name", str(kind)).upper().endswith("CUDA")


def _self_device_us(event: Any) -> float:
    for name in ("self_device_time_total", "self_cuda_time_total"):
        value = getattr(event, name, None)
        if value:
            return float(value)
    return 0.0


def section_speed(suite: Suite, section: Section) -> None:
    from explorer.training.data import load_dataset

    device = torch.device("cuda" if suite.cuda else "cpu")
    plan = speed_plan(suite)
    load_dataset("shapes", train=True, limit=plan.train_images)  # draw the images once (cached)
    section.results["plan"] = {"batch": plan.batch, "train_images": plan.train_images, "tutorial_steps":
                               [plan.warmup_a, plan.timed_a], "engine_steps": [plan.warmup_b, plan.timed_b],
                               "workers": plan.workers, "sizes": plan.sizes, "device": str(device)}
    if not suite.cuda:
        section.notes.append("no CUDA: toy sizes on the CPU to exercise the code; the figures mean nothing")
    rows_out: dict[str, Any] = {}
    section.results["setups"] = rows_out
    table = []
    for label, preset, _ in plan.setups:
        if suite.remaining() < (25 if suite.cuda and not suite.quick else 3):
            section.notes.append(f"{label}: skipped, time budget")
            continue
        size = plan.sizes[preset]
        row: dict[str, Any] = {"label": label, "preset": preset, "input_size": size, "batch": plan.batch}
        rows_out[preset] = row
        for key, runner in (("tutorial", lambda: tutorial_loop(preset, size, plan, device)),
                            ("engine", lambda: engine_path(preset, size, plan, device))):
            try:
                row[key] = runner()
            except Exception as exc:  # noqa: BLE001
                suite.record_error(section, f"{preset} {key}", exc)
            _release_cuda()
        a = row.get("tutorial", {}).get("examples_per_s")
        b = row.get("engine", {}).get("examples_per_s")
        row["ratio_engine_to_tutorial"] = b / a if a and b else None
        row["tutorial_vs_d2l_v100"] = a / D2L_V100[preset] if a else None
        row["engine_vs_d2l_v100"] = b / D2L_V100[preset] if b else None
        suite.log(f"  {label} at {size}: tutorial {_cell(a)}/s, engine {_cell(b)}/s, ratio "
                  f"{_cell(row['ratio_engine_to_tutorial'])}")
        table.append([label, size, a, row.get("tutorial", {}).get("loader_only_examples_per_s"), b,
                      row["ratio_engine_to_tutorial"], D2L_V100[preset], row["engine_vs_d2l_v100"]])
        suite.write()
    suite.log.table(["setup", "px", "(a) tutorial ex/s", "(a) loader only ex/s", "(b) engine ex/s", "b/a",
                     "d2l V100 ex/s", "b/V100"], table,
                    title=f"Training throughput, batch {plan.batch}, {device}: (a) DataLoader({plan.workers} "
                          f"workers)+PIL Resize, fp32, NCHW; (b) engine: data on device, F.interpolate, "
                          f"channels_last, bf16")
    vgg = rows_out.get("d2l_vgg11_small", {})
    ratio = vgg.get("ratio_engine_to_tutorial")
    rate = vgg.get("engine", {}).get("examples_per_s")
    measured = suite.cuda and not suite.quick
    suite.goal("speed_vgg_ratio", f"VGG-11/4: engine >= {SPEED_GOAL_RATIO:g}x the tutorial loop", ratio,
               (ratio >= SPEED_GOAL_RATIO) if measured and ratio else None,
               "" if measured else "not measured on a GPU")
    suite.goal("speed_vgg_rate", f"VGG-11/4: engine >= {SPEED_GOAL_EXAMPLES:,.0f} examples/s", rate,
               (rate >= SPEED_GOAL_EXAMPLES) if measured and rate else None,
               "" if measured else "not measured on a GPU")
    # Where a setup falls short, profile the engine's step once to say what bounds it.
    profiles: dict[str, Any] = {}
    section.results["profiles"] = profiles
    for label, preset, _ in plan.setups:
        row = rows_out.get(preset)
        if not row or "engine" not in row:
            continue
        rate = row["engine"]["examples_per_s"]
        short = (row.get("ratio_engine_to_tutorial") or 0) < SPEED_GOAL_RATIO or rate < SPEED_GOAL_EXAMPLES
        if not short or preset in profiles:
            continue
        if measured and suite.remaining() < 60:
            section.notes.append(f"{label}: not profiled, time budget")
            continue
        try:
            profiles[preset] = profile_engine_step(preset, plan.sizes[preset], plan, device,
                                                   steps=5 if measured else 1)
            suite.log(f"  profile {label}: {profiles[preset]['verdict']}; the loop alone "
                      f"{_cell(profiles[preset]['manual_loop_examples_per_s'])}/s")
            suite.log.table(["kernel", "GPU us/step", "calls/step", "share"],
                            [[kernel["name"][:90], kernel["device_us_per_step"], kernel["calls_per_step"],
                              kernel["share"]] for kernel in profiles[preset]["top_kernels"]],
                            title=f"top-10 GPU kernels of {label}'s engine step")
            suite.log.table(["operator", "GPU us/step", "calls/step", "self CPU us/step"],
                            [[op["name"][:70], op["self_device_us_per_step"], op["calls_per_step"],
                              op["self_cpu_us_per_step"]] for op in profiles[preset]["top_ops"]],
                            title=f"top-10 operators of {label}'s engine step by the GPU time they launch")
        except Exception as exc:  # noqa: BLE001
            suite.record_error(section, f"{preset} profile", exc)
        _release_cuda()
        if not measured:
            break  # one profile exercises the code on a CPU


# ---------------------------------------------------------------------------------------------------------------
# 3. memory: the estimate against the measured peak


def memory_phases(preset: str, size: int, batch: int, precision: str, device: torch.device) -> dict[str, Any]:
    """Allocated memory after each phase of a steady-state step (the second), and each phase's peak, in bytes."""
    from explorer import load_preset
    from explorer.models import build_model
    from explorer.training import TrainConfig
    from explorer.training.data import make_pipeline
    from explorer.training.devices import autocast
    from explorer.training.engine import forward_loss, init_weights, make_optimizer

    spec = load_preset(preset).replace(input_size=size)
    channels_last = precision == "bf16"
    base = torch.cuda.memory_allocated(device)
    images = torch.randint(0, 256, (batch, 1, 28, 28), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 10, (batch,), device=device)
    pipeline = make_pipeline(images, model_channels=spec.in_channels, input_size=size, augment=False, flip=False,
                             channels_last=channels_last)
    model = build_model(spec)
    init_weights(model, "kaiming")
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model.parameters(), TrainConfig(optimizer="adam"))
    phases: dict[str, Any] = {}
    for step in range(2):
        torch.cuda.reset_peak_memory_stats(device)
        batch_images = pipeline(images, train=True)
        with autocast(device, precision):
            loss, _, _ = forward_loss(model, batch_images, labels, 0.3)
        if step:
            phases["after_forward"] = torch.cuda.memory_allocated(device) - base
            phases["forward_peak"] = torch.cuda.max_memory_allocated(device) - base
            torch.cuda.reset_peak_memory_stats(device)
        loss.backward()
        if step:
            phases["after_backward"] = torch.cuda.memory_allocated(device) - base
            phases["backward_peak"] = torch.cuda.max_memory_allocated(device) - base
            torch.cuda.reset_peak_memory_stats(device)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step:
            phases["after_step"] = torch.cuda.memory_allocated(device) - base
            phases["step_peak"] = torch.cuda.max_memory_allocated(device) - base
        del batch_images, loss
    torch.cuda.synchronize(device)
    del model, optimizer, images, labels, pipeline
    return phases


def section_memory(suite: Suite, section: Section) -> None:
    from explorer import load_preset
    from explorer.training import DoneEvent, ErrorEvent, StartEvent, TrainConfig, train

    cuda = suite.cuda and not suite.quick
    device = torch.device("cuda" if suite.cuda else "cpu")
    batch = 128 if cuda else 8
    rows: list[dict[str, Any]] = []
    section.results["runs"] = rows
    plan = speed_plan(suite)
    setups = SETUPS if cuda else SETUPS[:1]
    variants = (("fp32", False, "adam"), ("bf16", True, "adam"), ("bf16", True, "sgd")) if cuda else (
        ("fp32", False, "adam"),)
    for variant in variants:
        for label, preset, size in setups:
            if suite.remaining() < (15 if cuda else 2):
                section.notes.append(f"{label} {variant}: skipped, time budget")
                continue
            size = size if cuda else plan.sizes[preset]
            precision, channels_last, optimizer = variant
            config = TrainConfig(dataset="shapes", batch_size=batch, train_subset=batch * 4, test_subset=batch,
                                 epochs=1, optimizer=optimizer, precision=precision, channels_last=channels_last,
                                 device=device.type, input_size=size, log_every=2, save_checkpoint=False,
                                 num_samples=0)
            row: dict[str, Any] = {"label": label, "preset": preset, "input_size": size, "batch": batch,
                                   "precision": precision, "optimizer": optimizer, "channels_last": channels_last}
            try:
                start = done = None
                tracker = None
                if not suite.cuda:  # the CPU's exact measure: live tensor bytes
                    from explorer.training.memory import LiveTensorBytes

                    tracker = LiveTensorBytes()
                    tracker.__enter__()
                try:
                    for event in train(load_preset(preset), config):
                        if isinstance(event, StartEvent):
                            start = event
                        elif isinstance(event, DoneEvent):
                            done = event
                        elif isinstance(event, ErrorEvent):
                            raise RuntimeError(f"{event.kind}: {event.message}")
                finally:
                    if tracker is not None:
                        tracker.__exit__(None, None, None)
                assert start is not None and done is not None
                estimate = start.estimated_memory_bytes
                measured = done.peak_memory_steady_bytes if suite.cuda else tracker.peak_bytes
                row.update(device=start.device, event_precision=start.precision, estimate_bytes=estimate,
                           estimate_terms=start.memory_estimate, peak_bytes=done.peak_memory_bytes,
                           peak_kind=done.peak_memory_kind, first_step_peak_bytes=done.peak_memory_first_step_bytes,
                           steady_peak_bytes=done.peak_memory_steady_bytes,
                           measured_kind="cuda steady max allocated" if suite.cuda else "live tensor bytes (CPU)",
                           measured_bytes=measured,
                           ratio=estimate / measured if measured else None,
                           ratio_whole_run=estimate / done.peak_memory_bytes if done.peak_memory_bytes else None)
                if cuda and variant[2] == "adam":
                    row["phases"] = memory_phases(preset, size, batch, precision, device)
            except Exception as exc:  # noqa: BLE001
                suite.record_error(section, f"{preset} {variant}", exc)
            _release_cuda()
            rows.append(row)
            suite.write()
    table = [[row["label"], row["precision"], row["optimizer"], _mib(row.get("estimate_bytes")),
              _mib(row.get("measured_bytes")), row.get("ratio"), _mib(row.get("first_step_peak_bytes")),
              row.get("ratio_whole_run"), (row.get("estimate_terms") or {}).get("peak_phase"), row.get("device")]
             for row in rows]
    suite.log.table(["setup", "precision", "optimizer", "estimate MiB", "measured MiB", "est/measured",
                     "first step MiB", "est/whole run", "modelled peak", "device"], table,
                    title=f"Memory at batch {batch}: the pre-launch estimate against the measured peak "
                          f"({'steady-state torch.cuda.max_memory_allocated' if suite.cuda else 'live tensor bytes'})")
    phase_rows = [[row["label"], row["precision"]] + [_mib(row["phases"].get(key)) for key in
                  ("after_forward", "forward_peak", "after_backward", "backward_peak", "after_step", "step_peak")]
                  for row in rows if row.get("phases")]
    if phase_rows:
        suite.log.table(["setup", "precision", "after fwd", "fwd peak", "after bwd", "bwd peak", "after step",
                         "step peak"], phase_rows, title="Phases of a steady step (MiB above the start, Adam)")
    ratios = [row["ratio"] for row in rows if row.get("ratio")]
    inside = [MEMORY_GOAL[0] <= ratio <= MEMORY_GOAL[1] for ratio in ratios]
    suite.goal("memory_estimate", f"estimate/measured in {MEMORY_GOAL[0]}-{MEMORY_GOAL[1]} for every setup",
               min(ratios, key=lambda ratio: abs(math.log(ratio))) if ratios else None,
               all(inside) if cuda and ratios else None,
               f"{sum(inside)}/{len(ratios)} inside; range {min(ratios):.3f}-{max(ratios):.3f}" if ratios else "")


# ---------------------------------------------------------------------------------------------------------------
# 4. a real out-of-memory


def oom_batch(total_memory: int) -> tuple[int, int]:
    """A batch for VGG-16 at 224 whose estimate is at least twice the card (and the per-image bytes)."""
    from explorer import analyze, load_preset
    from explorer.training.memory import estimate_training_memory

    spec = load_preset("vgg16").replace(num_classes=10)
    per_image = estimate_training_memory(analyze(spec), 1, optimizer="sgd", precision="fp32",
                                         device_type="cuda").activation_bytes_per_image
    return min(max(math.ceil(2 * total_memory / per_image), 64), 65_536), per_image


def section_oom(suite: Suite, section: Section) -> None:
    from explorer import load_preset
    from explorer.training import DoneEvent, ErrorEvent, TrainConfig, train

    device = torch.device("cuda" if suite.cuda else "cpu")
    spec = load_preset("vgg16")  # torchvision's VGG-16, 224x224, 138 M parameters
    total = torch.cuda.get_device_properties(0).total_memory if suite.cuda else 0
    refuse_batch = 65_536
    # 1. The pre-launch check refuses a run that can't fit, before anything is allocated.
    before = torch.cuda.memory_allocated() if suite.cuda else 0
    started = time.perf_counter()
    events = list(train(spec, TrainConfig(dataset="shapes", batch_size=refuse_batch, train_subset=refuse_batch,
                                          test_subset=64, epochs=1, device=device.type, optimizer="sgd",
                                          save_checkpoint=False)))
    refusal = {"batch": refuse_batch, "events": [event.event for event in events],
               "kind": getattr(events[-1], "kind", None), "field": getattr(events[-1], "field", None),
               "message": getattr(events[-1], "message", None), "seconds": time.perf_counter() - started,
               "allocated_before": before,
               "allocated_after": torch.cuda.memory_allocated() if suite.cuda else 0}
    refusal["refused"] = (len(events) == 1 and isinstance(events[0], ErrorEvent) and events[0].kind == "config"
                          and "Won't fit" in (events[0].message or ""))
    section.results["refusal"] = refusal
    suite.log(f"  pre-launch check, VGG-16 at batch {refuse_batch}: refused={refusal['refused']} in "
              f"{refusal['seconds']:.2f} s: {str(refusal['message'])[:300]}")
    suite.goal("oom_refused", "the pre-launch check refuses a run far too large, with a clear message",
               None, refusal["refused"])
    if not suite.cuda:
        section.notes.append("no CUDA: the forced out-of-memory run and the recovery check need a GPU")
        suite.goal("oom_recovered", "forced past the check: 'Out of memory on cuda:0', memory back, next run works",
                   None, None, "needs CUDA")
        return
    # 2. Forced past the check: a real CUDA out-of-memory error, and the memory comes back.
    batch, per_image = oom_batch(total)
    _release_cuda()
    before = torch.cuda.memory_allocated()
    reserved_before = torch.cuda.memory_reserved()
    ooms_before = torch.cuda.memory_stats().get("num_ooms", 0)
    config = TrainConfig(dataset="shapes", batch_size=batch, train_subset=batch, test_subset=64, epochs=1,
                         device="cuda", optimizer="sgd", precision="fp32", save_checkpoint=False, num_samples=0)
    started = time.perf_counter()
    events = list(train(spec, config, check_memory=False))
    seconds = time.perf_counter() - started
    last = events[-1]
    after = torch.cuda.memory_allocated()
    forced = {"batch": batch, "estimated_activation_bytes_per_image": per_image,
              "estimated_total_bytes": getattr(events[0], "estimated_memory_bytes", None),
              "card_total_bytes": total, "events": [event.event for event in events],
              "kind": getattr(last, "kind", None), "message": getattr(last, "message", None),
              "step": getattr(last, "step", None), "seconds": seconds, "allocated_before": before,
              "allocated_after": after, "allocated_delta": after - before, "reserved_before": reserved_before,
              "reserved_after": torch.cuda.memory_reserved(),
              "num_ooms": torch.cuda.memory_stats().get("num_ooms", 0) - ooms_before,
              "peak_during_bytes": torch.cuda.max_memory_allocated()}
    forced["oom_event"] = (isinstance(last, ErrorEvent) and last.kind == "out of memory"
                           and (last.message or "").startswith("Out of memory on cuda:0"))
    forced["memory_back"] = after <= before + MIB
    section.results["forced"] = forced
    suite.log(f"  forced past the check, VGG-16 at batch {batch} (~{batch * per_image / GIB:.0f} GiB of activations "
              f"on a {total / GIB:.0f} GiB card): {forced['kind']} after {seconds:.1f} s at step {forced['step']}: "
              f"{str(forced['message'])[:300]}")
    suite.log(f"  allocated before {before / MIB:.1f} MiB, after {after / MIB:.1f} MiB; reserved after "
              f"{forced['reserved_after'] / MIB:.1f} MiB; OOMs counted by the allocator: {forced['num_ooms']}")
    # 3. A normal run right after, in the same process.
    small = TrainConfig(dataset="shapes", batch_size=64, train_subset=320, test_subset=128, epochs=1, device="cuda",
                        precision="bf16", channels_last=True, save_checkpoint=False, num_samples=0)
    events = list(train(load_preset("d2l_vgg11_small").replace(input_size=64), small))
    normal = {"events": [event.event for event in events], "ok": isinstance(events[-1], DoneEvent),
              "test_acc": getattr(events[-1], "test_acc", None), "message": getattr(events[-1], "message", None),
              "allocated_after": torch.cuda.memory_allocated()}
    section.results["next_run"] = normal
    suite.log(f"  the next run in the same process: {'done' if normal['ok'] else 'FAILED'}"
              f"{'' if normal['ok'] else ': ' + str(normal['message'])}")
    suite.log.table(["check", "result"], [
        ["refused by the pre-launch check", refusal["refused"]],
        ["forced: ends with 'Out of memory on cuda:0 ...'", forced["oom_event"]],
        ["forced: allocated memory back to where it was (+1 MiB)", forced["memory_back"]],
        ["a normal run right after works", normal["ok"]]])
    ok = forced["oom_event"] and forced["memory_back"] and normal["ok"]
    suite.goal("oom_recovered", "forced past the check: 'Out of memory on cuda:0', memory back, next run works",
               forced["allocated_delta"], ok)


# ---------------------------------------------------------------------------------------------------------------
# 5. correctness: the CLI on CUDA


def run_cli(arguments: list[str], timeout: float) -> dict[str, Any]:
    """``python3 -m explorer train ... --json`` in a child process; its start and done (or error) events."""
    command = [sys.executable, "-m", "explorer", "train", *arguments]
    started = time.perf_counter()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        return {"command": " ".join(command[1:]), "ok": False, "error": f"timed out after {timeout:.0f} s",
                "stderr": (exc.stderr or "")[-2000:] if isinstance(exc.stderr, str) else ""}
    events = []
    for line in process.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    start = next((event for event in events if event.get("event") == "start"), {})
    last = events[-1] if events else {}
    result = {"command": " ".join(command[1:]), "returncode": process.returncode,
              "seconds": time.perf_counter() - started, "ok": last.get("event") == "done",
              "device": start.get("device"), "precision": start.get("precision"),
              "channels_last": start.get("channels_last"), "input_shape": start.get("input_shape"),
              "estimated_memory_bytes": start.get("estimated_memory_bytes"),
              "test_acc": last.get("test_acc"), "train_acc": last.get("train_acc"),
              "train_loss": last.get("train_loss"), "steps": last.get("steps"),
              "examples_per_s": last.get("examples_per_s"), "train_seconds": last.get("train_seconds"),
              "peak_memory_bytes": last.get("peak_memory_bytes"),
              "peak_memory_steady_bytes": last.get("peak_memory_steady_bytes"),
              "peak_memory_first_step_bytes": last.get("peak_memory_first_step_bytes"),
              "peak_memory_kind": last.get("peak_memory_kind"), "error": last.get("message")}
    if not result["ok"]:
        result["stderr"] = process.stderr[-3000:]
    return result


def section_correctness(suite: Suite, section: Section) -> None:
    common = ["d2l_vgg11_small", "--dataset", "shapes", "--json", "--no-checkpoint", "--seed", "0"]
    if suite.cuda and not suite.quick:
        runs = [("bf16, 32 px, 2 epochs", common + ["--device", "cuda", "--precision", "bf16", "--input-size", "32",
                                                     "--epochs", "2"]),
                ("fp32, 32 px, 2 epochs", common + ["--device", "cuda", "--precision", "fp32", "--input-size", "32",
                                                     "--epochs", "2"]),
                ("bf16, 224 px, 1 epoch", common + ["--device", "cuda", "--precision", "bf16", "--epochs", "1"])]
        timeout = 90.0
    else:
        runs = [("cpu toy run", common + ["--device", "cpu", "--input-size", "32", "--epochs", "1", "--train-subset",
                                          "64", "--test-subset", "32", "--batch-size", "32"])]
        timeout = 60.0
        section.notes.append("no CUDA: one toy CLI run on the CPU exercises the parsing; the CUDA runs need a GPU")
    results = {}
    section.results["runs"] = results
    for label, arguments in runs:
        if suite.remaining() < 20:
            section.notes.append(f"{label}: skipped, time budget")
            continue
        results[label] = result = run_cli(arguments, min(timeout, max(suite.remaining() - 5, 10)))
        suite.log(f"  {label}: {'done' if result['ok'] else 'FAILED'} in {result.get('seconds', 0):.1f} s, "
                  f"test acc {_cell(result.get('test_acc'))}, device {result.get('device')}, "
                  f"{result.get('precision')}{'' if result['ok'] else ': ' + str(result.get('error'))}")
        if not result["ok"]:
            section.errors.append({"where": label, "error": str(result.get("error")),
                                   "traceback": str(result.get("stderr", ""))})
        suite.write()
    suite.log.table(["run", "device", "precision", "test acc", "train acc", "ex/s", "peak MiB", "steady MiB",
                     "estimate MiB", "s"],
                    [[label, r.get("device"), r.get("precision"), r.get("test_acc"), r.get("train_acc"),
                      r.get("examples_per_s"), _mib(r.get("peak_memory_bytes")),
                      _mib(r.get("peak_memory_steady_bytes")), _mib(r.get("estimated_memory_bytes")),
                      r.get("seconds")] for label, r in results.items()])
    if suite.cuda and not suite.quick:
        good = [r for r in results.values() if r.get("ok")]
        devices_ok = all(r.get("device") == "cuda:0" for r in good)
        suite.goal("cli_cuda", "CLI runs on cuda:0 report device, precision, measured peak and estimate",
                   len(good), bool(good) and len(good) == len(results) and devices_ok
                   and all(r.get("peak_memory_bytes") for r in good))


# ---------------------------------------------------------------------------------------------------------------
# 6. NVML against nvidia-smi


def nvidia_smi_query() -> dict[str, Any]:
    """One reading of nvidia-smi's columns (GPU 0), with the wall time it was taken."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return {"error": "nvidia-smi not found"}
    taken = time.time()
    try:
        process = subprocess.run([smi, f"--query-gpu={','.join(NVIDIA_SMI_FIELDS)}",
                                  "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        return {"error": f"nvidia-smi failed: {exc}", "time": taken}
    line = process.stdout.strip().splitlines()[0] if process.stdout.strip() else ""
    values = [value.strip() for value in line.split(",")]
    if len(values) != len(NVIDIA_SMI_FIELDS):
        return {"error": f"unexpected output: {process.stdout.strip()[:300]} {process.stderr.strip()[:300]}",
                "time": taken}
    reading: dict[str, Any] = {"time": taken}
    for name, value in zip(NVIDIA_SMI_FIELDS, values):
        try:
            reading[name] = value if name == "pstate" else float(value)
        except ValueError:
            reading[name] = value  # "[N/A]"
    return reading


def nvidia_smi_processes() -> list[dict[str, Any]] | str:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return "nvidia-smi not found"
    try:
        process = subprocess.run([smi, "--query-compute-apps=pid,process_name,used_memory",
                                  "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"nvidia-smi failed: {exc}"
    rows = []
    for line in process.stdout.strip().splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) == 3:
            rows.append({"pid": parts[0], "name": parts[1], "used_memory_mib": parts[2]})
    return rows


def paired_reading(sampler: Any) -> dict[str, Any]:
    """The sampler and nvidia-smi read back to back (the same second); the sample's wall and CPU time."""
    wall, cpu = time.perf_counter(), time.thread_time()
    snapshot = sampler.sample_once()
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    smi = nvidia_smi_query()
    gpu = snapshot.gpus[0] if snapshot.gpus else None
    ours: dict[str, Any] = {"time": snapshot.time, "available": snapshot.available, "reason": snapshot.reason}
    if gpu is not None:
        ours.update(utilization_gpu=gpu.utilization_gpu_percent,
                    memory_used_mib=_mib(gpu.memory_used_bytes), memory_total_mib=_mib(gpu.memory_total_bytes),
                    power_draw_w=gpu.power_draw_w, temperature_c=gpu.temperature_c,
                    clock_sm_mhz=getattr(gpu, "clock_sm_mhz", None), clock_mem_mhz=getattr(gpu, "clock_mem_mhz", None),
                    pstate=gpu.performance_state, processes=gpu.processes)
    apart = smi["time"] - snapshot.time if isinstance(smi.get("time"), float) else None
    return {"sampler": ours, "nvidia_smi": smi, "seconds_apart": apart,
            "sample_wall_ms": wall * 1e3, "sample_cpu_ms": cpu * 1e3}


#: (our key, nvidia-smi's key, tolerance, relative?)
COMPARISONS = (("utilization_gpu", "utilization.gpu", 25.0, False), ("memory_used_mib", "memory.used", 64.0, False),
               ("memory_total_mib", "memory.total", 1.0, False), ("power_draw_w", "power.draw", 0.2, True),
               ("temperature_c", "temperature.gpu", 2.0, False), ("clock_sm_mhz", "clocks.sm", 0.1, True),
               ("clock_mem_mhz", "clocks.mem", 0.05, True))


def compare(pair: dict[str, Any], phase: str) -> list[dict[str, Any]]:
    """The fields on which the two disagree by more than their tolerance (timing differences included)."""
    ours, smi = pair["sampler"], pair["nvidia_smi"]
    disagreements = []
    for key, smi_key, tolerance, relative in COMPARISONS:
        mine, theirs = ours.get(key), smi.get(smi_key)
        if not isinstance(mine, (int, float)) or not isinstance(theirs, (int, float)):
            if mine is not None or theirs is not None:
                disagreements.append({"phase": phase, "field": key, "sampler": mine, "nvidia_smi": theirs,
                                      "why": "one side has no value"})
            continue
        limit = tolerance * abs(theirs) if relative else tolerance
        if abs(mine - theirs) > limit:
            disagreements.append({"phase": phase, "field": key, "sampler": mine, "nvidia_smi": theirs,
                                  "difference": mine - theirs})
    if ours.get("pstate") is not None and smi.get("pstate") is not None and ours["pstate"] != smi["pstate"]:
        disagreements.append({"phase": phase, "field": "pstate", "sampler": ours["pstate"],
                              "nvidia_smi": smi["pstate"]})
    return disagreements


def nvml_memory_versions() -> dict[str, Any]:
    """NVML's memory info v1 against v2 (v2 separates the driver's reserved memory), straight from pynvml."""
    import pynvml

    pynvml.nvmlInit()
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        v1 = pynvml.nvmlDeviceGetMemoryInfo(handle)
        result: dict[str, Any] = {"v1_used_mib": v1.used / MIB, "v1_total_mib": v1.total / MIB,
                                  "v1_free_mib": v1.free / MIB}
        version = getattr(pynvml, "nvmlMemory_v2", None)
        if version is not None:
            try:
                v2 = pynvml.nvmlDeviceGetMemoryInfo(handle, version=version)
                result.update(v2_used_mib=v2.used / MIB, v2_total_mib=v2.total / MIB,
                              v2_reserved_mib=getattr(v2, "reserved", 0) / MIB, v2_free_mib=v2.free / MIB)
            except Exception as exc:  # noqa: BLE001
                result["v2_error"] = str(exc)
        return result
    finally:
        pynvml.nvmlShutdown()


def thread_cpu_seconds(native_id: int | None) -> float | None:
    """CPU seconds (user + system) of one thread of this process, from psutil."""
    if native_id is None:
        return None
    import psutil

    for thread in psutil.Process().threads():
        if thread.id == native_id:
            return thread.user_time + thread.system_time
    return None


def section_nvml(suite: Suite, section: Section) -> None:
    from explorer.gpu import GpuSampler

    gpu_run = suite.cuda and not suite.quick
    sampler = GpuSampler(interval_s=1.0)
    first_start = time.perf_counter()
    first = sampler.sample_once()
    section.results["first_sample_ms"] = (time.perf_counter() - first_start) * 1e3
    section.results["available"] = first.available
    section.results["reason"] = first.reason
    # The sampler's cost: one sample back to back ("hot"), wall and CPU time of the calling thread. At 1 Hz a
    # sample's CPU milliseconds / 10 is the sampler thread's share of a core, in percent.
    timings, cpu_timings = [], []
    for _ in range(50 if gpu_run else 10):
        start, cpu_start = time.perf_counter(), time.thread_time()
        sampler.sample_once()
        cpu_timings.append((time.thread_time() - cpu_start) * 1e3)
        timings.append((time.perf_counter() - start) * 1e3)
    section.results["sample_ms"] = {"median": statistics.median(timings), "max": max(timings),
                                    "p95": sorted(timings)[int(0.95 * (len(timings) - 1))],
                                    "cpu_median": statistics.median(cpu_timings)}
    if not gpu_run or not first.available:
        window = 2.0
        thread_sampler = GpuSampler(interval_s=1.0)
        thread_sampler.start()
        time.sleep(0.2)
        native = getattr(thread_sampler._thread, "native_id", None)
        before = thread_cpu_seconds(native)
        time.sleep(window)
        after = thread_cpu_seconds(native)
        thread_sampler.stop()
        section.results["thread_core_percent_psutil"] = ((after - before) / window * 100) if before is not None \
            and after is not None else None
        section.results["thread_core_percent"] = section.results["sample_ms"]["cpu_median"] / 10
        section.results["nvidia_smi_idle"] = nvidia_smi_query()
        section.notes.append("no NVIDIA GPU/NVML: the sampler's CPU/RAM fallback was measured; nvidia-smi was "
                             f"{'found' if shutil.which('nvidia-smi') else 'not found'}")
        suite.log.table(["measure", "value"], [["available", first.available], ["reason", first.reason],
                                               ["one sample, median ms", section.results["sample_ms"]["median"]],
                                               ["1 Hz thread, % of a core (sample CPU ms / 10)",
                                                section.results["thread_core_percent"]]])
        suite.goal("nvml_load", "GPU utilisation > 50% while training, falling after", None, None, "needs a GPU")
        return
    pairs: dict[str, list[dict[str, Any]]] = {"idle": [], "load": [], "after": []}
    section.results["pairs"] = pairs
    for _ in range(3):
        pairs["idle"].append(paired_reading(sampler))
        time.sleep(NVML_WAITS["idle_gap"])
    # A training load in a background thread, the sampler thread running at 1 Hz beside it.
    from explorer import load_preset
    from explorer.training import ErrorEvent, TrainConfig, train

    stop = threading.Event()
    load_state: dict[str, Any] = {"steps": 0, "error": None}

    def load() -> None:
        config = TrainConfig(dataset="shapes", batch_size=128, epochs=50, device="cuda", precision="bf16",
                             channels_last=True, optimizer="sgd", lr=0.05, save_checkpoint=False, num_samples=0,
                             log_every=5)
        events = train(load_preset("d2l_vgg11_small"), config)
        try:
            for event in events:
                if isinstance(event, ErrorEvent):
                    load_state["error"] = event.message
                load_state["steps"] = getattr(event, "step", load_state["steps"])
                if stop.is_set():
                    break
        except Exception as exc:  # noqa: BLE001
            load_state["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            events.close()

    background = GpuSampler(interval_s=1.0)
    background.start()
    worker = threading.Thread(target=load, name="training-load", daemon=True)
    worker.start()
    time.sleep(NVML_WAITS["load_start"])  # data, model, cuDNN autotuning
    native = getattr(background._thread, "native_id", None)
    cpu_before, wall_before = thread_cpu_seconds(native), time.monotonic()
    for index in range(5):
        pairs["load"].append(paired_reading(sampler))
        if index == 2:
            section.results["nvidia_smi_processes"] = nvidia_smi_processes()
            section.results["memory_versions_under_load"] = nvml_memory_versions()
            section.results["torch_under_load"] = {"allocated_mib": torch.cuda.memory_allocated() / MIB,
                                                   "reserved_mib": torch.cuda.memory_reserved() / MIB}
        time.sleep(NVML_WAITS["load_gap"])
    cpu_after, wall_after = thread_cpu_seconds(native), time.monotonic()
    history = background.history()
    stop.set()
    worker.join(timeout=30)
    background.stop()
    section.results["load_steps"] = load_state["steps"]
    section.results["load_error"] = load_state["error"]
    # psutil's per-thread times tick in 10 ms: a coarse cross-check of the figure from the samples' CPU time
    section.results["thread_core_percent_psutil"] = ((cpu_after - cpu_before) / (wall_after - wall_before) * 100
                                                     if cpu_before is not None and cpu_after is not None else None)
    section.results["thread_samples"] = len(history)
    _release_cuda()
    time.sleep(NVML_WAITS["cooldown"])
    for _ in range(3):
        pairs["after"].append(paired_reading(sampler))
        time.sleep(NVML_WAITS["idle_gap"])
    sampler.stop()
    # Samples about a second apart, as the sampler thread takes them (not under load: the training thread's
    # Python holds the GIL and stretches their wall time; their CPU time is kept in the pairs)
    quiet = pairs["idle"] + pairs["after"]
    spaced_cpu = [pair["sample_cpu_ms"] for pair in quiet]
    spaced_wall = [pair["sample_wall_ms"] for pair in quiet]
    section.results["sample_ms"].update(spaced_median=statistics.median(spaced_wall),
                                        spaced_cpu_median=statistics.median(spaced_cpu))
    # At 1 Hz: the CPU milliseconds of a sample taken about a second after the previous one, per 1000 ms
    section.results["thread_core_percent"] = statistics.median(spaced_cpu) / 10
    disagreements = [item for phase, readings in pairs.items() for pair in readings for item in compare(pair, phase)]
    section.results["disagreements"] = disagreements

    def utilisation(phase: str, source: str) -> list[float]:
        key = "utilization_gpu" if source == "sampler" else "utilization.gpu"
        return [pair[source][key] for pair in pairs[phase] if isinstance(pair[source].get(key), (int, float))]

    load_util = utilisation("load", "sampler")
    after_util = utilisation("after", "sampler")
    median_load = statistics.median(load_util) if load_util else None
    max_after = max(after_util) if after_util else None
    section.results["utilisation"] = {"idle": utilisation("idle", "sampler"), "load": load_util,
                                      "after": after_util, "load_nvidia_smi": utilisation("load", "nvidia_smi")}
    rows = []
    for phase, readings in pairs.items():
        for pair in readings:
            ours, smi = pair["sampler"], pair["nvidia_smi"]
            rows.append([phase, f"{ours.get('utilization_gpu')} / {smi.get('utilization.gpu')}",
                         f"{_cell(ours.get('memory_used_mib'))} / {_cell(smi.get('memory.used'))}",
                         f"{_cell(ours.get('memory_total_mib'))} / {_cell(smi.get('memory.total'))}",
                         f"{_cell(ours.get('power_draw_w'))} / {_cell(smi.get('power.draw'))}",
                         f"{ours.get('temperature_c')} / {_cell(smi.get('temperature.gpu'))}",
                         f"{ours.get('clock_sm_mhz')} / {_cell(smi.get('clocks.sm'))}",
                         f"{ours.get('clock_mem_mhz')} / {_cell(smi.get('clocks.mem'))}",
                         f"{ours.get('pstate')} / {smi.get('pstate')}", _cell(pair["seconds_apart"])])
    suite.log.table(["phase", "util %", "mem used MiB", "mem total MiB", "power W", "temp C", "SM MHz", "mem MHz",
                     "P-state", "s apart"], rows, title="The sampler / nvidia-smi, read back to back")
    costs = section.results["sample_ms"]
    first_ms = section.results["first_sample_ms"]
    suite.log(f"  sampler: one sample {costs['median']:.3f} ms median back to back, {costs['spaced_median']:.3f} ms "
              f"spaced ~1 s apart ({costs['spaced_cpu_median']:.3f} ms CPU; first {first_ms:.1f} ms); at 1 Hz "
              f"{section.results['thread_core_percent']:.3f}% of a core (psutil: "
              f"{_cell(section.results['thread_core_percent_psutil'])}%); {len(disagreements)} disagreement(s)")
    for item in disagreements[:12]:
        suite.log(f"    {item}")
    ok = median_load is not None and median_load > 50 and max_after is not None and max_after < median_load
    suite.goal("nvml_load", "GPU utilisation > 50% while training, falling after", median_load, ok,
               f"after: {after_util}")
    worst = max(costs["median"], costs["spaced_median"])
    suite.goal("nvml_cost", "sampler: one sample <= 2 ms, the 1 Hz thread <= 1% of a core", worst,
               worst <= 2.0 and section.results["thread_core_percent"] <= 1.0)


# ---------------------------------------------------------------------------------------------------------------
# 7. the CUDA tests with pytest


def section_pytest(suite: Suite, section: Section) -> None:
    if suite.cuda and not suite.quick:
        targets = list(CUDA_TESTS)
        timeout = min(150.0, max(suite.remaining() - 5, 20))
    else:
        targets = ["tests/test_cuda.py"]
        timeout = 60.0
        section.notes.append("no CUDA: tests/test_cuda.py runs and skips; that exercises the reporting")
    with tempfile.TemporaryDirectory() as folder:
        junit = Path(folder) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider", f"--junitxml={junit}",
                   *targets]
        started = time.perf_counter()
        try:
            process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
            output, returncode = process.stdout + process.stderr, process.returncode
        except subprocess.TimeoutExpired as exc:
            output = (exc.stdout or "") if isinstance(exc.stdout, str) else ""
            returncode = None
            section.errors.append({"where": "pytest", "error": f"timed out after {timeout:.0f} s",
                                   "traceback": output[-3000:]})
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        failed: list[dict[str, str]] = []
        skipped: list[dict[str, str]] = []
        if junit.is_file():
            tree = ElementTree.parse(junit)
            for suite_node in tree.iter("testsuite"):
                for key in counts:
                    counts[key] += int(suite_node.get(key, 0))
            for case in tree.iter("testcase"):
                name = f"{case.get('classname')}::{case.get('name')}"
                for tag in ("failure", "error"):
                    node = case.find(tag)
                    if node is not None:
                        failed.append({"test": name, "kind": tag, "message": (node.get("message") or "")[:500],
                                       "text": (node.text or "")[-3000:]})
                node = case.find("skipped")
                if node is not None:
                    skipped.append({"test": name, "reason": (node.get("message") or "")[:300]})
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    section.results = {"command": " ".join(command[1:]), "returncode": returncode,
                       "seconds": time.perf_counter() - started, "counts": counts, "failed": failed,
                       "skipped": skipped, "output_tail": output[-4000:]}
    suite.log(output.strip()[-2500:])
    suite.log.table(["passed", "failed", "errors", "skipped"],
                    [[counts["passed"], counts["failures"], counts["errors"], counts["skipped"]]])
    if failed:
        section.errors.extend({"where": item["test"], "error": item["message"], "traceback": item["text"]}
                              for item in failed)
    if suite.cuda and not suite.quick:
        suite.goal("cuda_tests", "the CUDA tests pass on the GPU", counts["passed"],
                   counts["tests"] > 0 and not failed and counts["passed"] > 0)


# ---------------------------------------------------------------------------------------------------------------
# 8. torch.compile, one child process per setup


def compile_child(preset: str, size: int, quick: bool) -> dict[str, Any]:
    """Runs in the child: the engine path eager, then compiled, in one process; prints nothing else."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    plan = SpeedPlan(batch=128, train_images=20_000, warmup_a=0, timed_a=0, warmup_b=20, timed_b=100, workers=0,
                     loader_batches=0, sizes={}, setups=()) if not quick else SpeedPlan(
        batch=8, train_images=64, warmup_a=0, timed_a=0, warmup_b=2, timed_b=2, workers=0, loader_batches=0,
        sizes={}, setups=())
    from explorer.training.data import load_dataset

    load_dataset("shapes", train=True, limit=plan.train_images)
    eager = engine_path(preset, size, plan, device)
    _release_cuda()
    result: dict[str, Any] = {"eager": eager}
    try:
        compiled = engine_path(preset, size, plan, device, compile_model=True)
        result["compiled"] = compiled
        result["compile_seconds"] = compiled["seconds_to_first_mark"] - eager["seconds_to_first_mark"]
        result["speedup"] = compiled["examples_per_s"] / eager["examples_per_s"]
    except Exception as exc:  # noqa: BLE001 - the error is the result
        result["compile_error"] = f"{type(exc).__name__}: {exc}"[:3000]
        result["traceback"] = traceback.format_exc()[-6000:]
    return result


def section_compile(suite: Suite, section: Section) -> None:
    results: dict[str, Any] = {}
    section.results["setups"] = results
    for label, preset, size in SETUPS:
        remaining = suite.remaining()
        if remaining < 45:
            section.notes.append(f"{label}: skipped, {remaining:.0f} s left")
            continue
        command = [sys.executable, str(Path(__file__).resolve()), "--child-compile", preset, "--child-size",
                   str(size)]
        started = time.perf_counter()
        try:
            process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                                     timeout=max(remaining - 10, 30))
            lines = [line for line in process.stdout.splitlines() if line.startswith("{")]
            result = json.loads(lines[-1]) if lines else {"error": "no result", "stderr": process.stderr[-3000:]}
        except subprocess.TimeoutExpired:
            result = {"error": f"timed out after {max(remaining - 10, 30):.0f} s"}
        result["wall_seconds"] = time.perf_counter() - started
        results[preset] = result
        if "compile_error" in result or "error" in result:
            section.errors.append({"where": preset, "error": str(result.get("compile_error") or result.get("error")),
                                   "traceback": str(result.get("traceback") or result.get("stderr") or "")})
        failure = result.get("compile_error") or result.get("error")
        suite.log(f"  {label}: eager {_cell(result.get('eager', {}).get('examples_per_s'))}/s, compiled "
                  f"{_cell(result.get('compiled', {}).get('examples_per_s'))}/s, compile "
                  f"{_cell(result.get('compile_seconds'))} s{': ' + str(failure)[:200] if failure else ''}")
        suite.write()
    suite.log.table(["setup", "eager ex/s", "compiled ex/s", "speedup", "compile s", "wall s"],
                    [[preset, r.get("eager", {}).get("examples_per_s"), r.get("compiled", {}).get("examples_per_s"),
                      r.get("speedup"), r.get("compile_seconds"), r.get("wall_seconds")]
                     for preset, r in results.items()], title="torch.compile (default mode), engine path, bf16")


# ---------------------------------------------------------------------------------------------------------------
# The run


SECTIONS: tuple[tuple[str, Callable[[Suite, Section], None], float, str | None], ...] = (
    # (name, function, seconds it needs to start on a GPU, why it is skipped without one (None: runs small))
    ("environment", section_environment, 1, None),
    ("speed", section_speed, 40, None),
    ("memory", section_memory, 20, None),
    ("oom", section_oom, 15, None),
    ("correctness", section_correctness, 25, None),
    ("nvml", section_nvml, 20, None),
    ("pytest", section_pytest, 25, None),
    ("compile", section_compile, 45, "needs CUDA: torch.compile is measured on the GPU only (on a CPU the "
                                     "compile alone takes minutes)"),
)


def summary(suite: Suite) -> None:
    """The last lines of the output: the goals and every section's status."""
    suite.log("\n=== summary ===")
    suite.log.table(["section", "status", "seconds", "note"],
                    [[name, section.status, section.seconds,
                      (section.reason or "; ".join(section.notes) or "; ".join(error["where"] for error in
                                                                              section.errors))[:90]]
                     for name, section in suite.sections.items()])
    speed = suite.sections.get("speed")
    if speed and speed.results.get("setups"):
        suite.log.table(["setup", "(a) ex/s", "(b) ex/s", "b/a", "b/V100"],
                        [[row["label"], row.get("tutorial", {}).get("examples_per_s"),
                          row.get("engine", {}).get("examples_per_s"), row.get("ratio_engine_to_tutorial"),
                          row.get("engine_vs_d2l_v100")] for row in speed.results["setups"].values()])
    suite.log.table(["goal", "value", "met", "detail"],
                    [[goal["goal"], goal["value"], goal["met"], goal["detail"][:60]] for goal in suite.goals.values()])
    suite.log(f"total {suite.elapsed():.0f} s of a {suite.budget:.0f} s budget; JSON: {suite.out / 'gpu_suite.json'}")


def watchdog(suite: Suite, grace: float) -> None:
    """Past the budget plus ``grace``: dump every thread's stack, write the JSON, and exit."""
    def watch() -> None:
        while True:
            time.sleep(1.0)
            if suite.elapsed() > suite.budget + grace:
                section = suite.current
                if section is not None:
                    section.status = "failed"
                    section.errors.append({"where": "watchdog", "error": f"still running {grace:.0f} s past the "
                                           f"budget; the suite was stopped", "traceback": ""})
                suite.log(f"WATCHDOG: {section.name if section else '?'} overran the budget; stopping")
                faulthandler.dump_traceback(file=suite.log.file, all_threads=True)
                try:
                    suite.write()
                    summary(suite)
                finally:
                    os._exit(3)

    threading.Thread(target=watch, name="suite-watchdog", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None, help="folder for gpu_suite.json and gpu_suite.log")
    parser.add_argument("--quick", action="store_true", help="toy sizes; CUDA-only parts skipped (automatic "
                                                             "without CUDA)")
    parser.add_argument("--budget", type=float, default=270.0, help="seconds for all sections (default 270)")
    parser.add_argument("--grace", type=float, default=25.0, help="seconds past the budget before the watchdog "
                                                                  "stops the run")
    parser.add_argument("--sections", default="", help="comma-separated subset of: "
                                                       + ",".join(name for name, *_ in SECTIONS))
    parser.add_argument("--child-compile", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-size", type=int, default=224, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_compile:
        quick = not torch.cuda.is_available()
        print(json.dumps(_finite(compile_child(args.child_compile, args.child_size, quick))), flush=True)
        return 0
    if not args.out:
        parser.error("--out is required")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available()
    quick = args.quick or not cuda
    suite = Suite(out, quick=quick, budget=args.budget, cuda=cuda, argv=sys.argv)
    wanted = {name.strip() for name in args.sections.split(",") if name.strip()}
    unknown = wanted - {name for name, *_ in SECTIONS}
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    suite.log(f"GPU suite: {'CUDA ' + torch.cuda.get_device_name(0) if cuda else 'no CUDA'}; "
              f"{'quick/dry run' if quick else 'full run'}; budget {args.budget:.0f} s; torch {torch.__version__}")
    watchdog(suite, args.grace)
    for name, function, needed, without_gpu in SECTIONS:
        if wanted and name not in wanted:
            continue
        suite.run(name, function, min_seconds=0 if quick else needed, skip_reason=without_gpu if quick else None)
    summary(suite)
    suite.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
