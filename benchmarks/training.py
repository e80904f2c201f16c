"""Training throughput: the explorer's engine against a loop written the tutorials' way, on the same device.

The reference loop is d2l's data path: a ``torch.utils.data.DataLoader`` over PIL images with a per-sample
``transforms.Resize`` + ``ToTensor``, fp32, NCHW. The engine keeps the dataset as uint8 tensors on the device
and resizes whole batches with ``F.interpolate``; its variants add channels_last and bf16 autocast. Every row
trains the same model from the same initial weights with the same optimizer (Adam lr 1e-3), batch size and
number of steps on the same images (the built-in ``shapes`` dataset, since nothing can be downloaded), then
reports the test accuracy on the same test images.

Throughput is wall-clock examples per second over the timed steps (data loading included), after warm-up steps.
The reference feeds ``ToTensor``'s [0, 1] pixels as d2l does, while the engine normalises with the training set's
mean and std; after a short run that, more than the data path, separates their accuracies.

    python benchmarks/training.py                                  # CPU: d2l_vgg11_small at 64x64
    python benchmarks/training.py --device cuda --input-size 224   # GPU: the goal there is >= 5x
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer import build_model, load_preset  # noqa: E402
from explorer.models import main_logits  # noqa: E402
from explorer.training import DoneEvent, ErrorEvent, StepEvent, TrainConfig, train  # noqa: E402
from explorer.training.data import load_dataset  # noqa: E402
from explorer.training.devices import cpu_flags, resolve_device  # noqa: E402
from explorer.training.engine import forward_loss, init_weights, make_optimizer  # noqa: E402


def reference_run(spec: Any, args: argparse.Namespace, device: torch.device, workers: int) -> dict[str, float]:
    """d2l's way: DataLoader, PIL images, per-sample Resize + ToTensor, fp32, NCHW."""
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    class PILImages(Dataset):
        def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Any) -> None:
            self.images = images.permute(0, 2, 3, 1).numpy()  # N x H x W x C, as torchvision keeps CIFAR
            self.labels = labels.tolist()
            self.transform = transform

        def __len__(self) -> int:
            return len(self.labels)

        def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
            pixels = self.images[index]
            image = Image.fromarray(pixels[:, :, 0], mode="L") if pixels.shape[2] == 1 else Image.fromarray(pixels)
            return self.transform(image), self.labels[index]

    steps = args.warmup + args.steps
    train_data = load_dataset(args.dataset, train=True, limit=steps * args.batch_size)
    test_data = load_dataset(args.dataset, train=False, limit=args.test_size)
    chain: list[Any] = [transforms.Resize(spec.input_size)]
    if train_data.images.shape[1] != spec.in_channels:
        chain.append(transforms.Grayscale(num_output_channels=spec.in_channels))
    chain.append(transforms.ToTensor())
    transform = transforms.Compose(chain)
    loader = DataLoader(PILImages(train_data.images, train_data.labels, transform), batch_size=args.batch_size,
                        shuffle=True, num_workers=workers, persistent_workers=False)
    torch.manual_seed(args.seed)
    model = build_model(spec)
    init_weights(model, args.init)
    model = model.to(device).train()
    config = TrainConfig(optimizer="adam", lr=args.lr)
    optimizer = make_optimizer(model.parameters(), config)
    timed_start = None
    count = 0
    for step, (images, labels) in enumerate(loader, 1):
        images, labels = images.to(device), labels.to(device)
        loss, _, _ = forward_loss(model, images, labels, aux_weight=0.3)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step == args.warmup:
            _sync(device)
            timed_start = time.perf_counter()
        elif step > args.warmup:
            count += len(labels)
    _sync(device)
    seconds = time.perf_counter() - (timed_start or time.perf_counter())
    model.eval()
    correct = 0
    test_loader = DataLoader(PILImages(test_data.images, test_data.labels, transform), batch_size=args.batch_size,
                             num_workers=workers)
    with torch.no_grad():
        for images, labels in test_loader:
            logits = main_logits(model(images.to(device)))
            correct += int((logits.argmax(dim=1).cpu() == labels).sum())
    return {"examples_per_s": count / seconds, "test_acc": correct / len(test_data), "seconds": seconds}


def engine_run(spec: Any, args: argparse.Namespace, device: torch.device, *, precision: str,
               channels_last: bool) -> dict[str, float]:
    steps = args.warmup + args.steps
    config = TrainConfig(dataset=args.dataset, epochs=1, batch_size=args.batch_size, optimizer="adam", lr=args.lr,
                         precision=precision, channels_last=channels_last, device=device.type, seed=args.seed,
                         init=args.init, train_subset=steps * args.batch_size, test_subset=args.test_size,
                         max_steps=steps, log_every=math.gcd(args.warmup, steps), save_checkpoint=False,
                         num_samples=0)
    marks: dict[int, float] = {}
    done = None
    for event in train(spec, config):
        if isinstance(event, StepEvent):
            marks[event.step] = event.elapsed_s
        elif isinstance(event, DoneEvent):
            done = event
        elif isinstance(event, ErrorEvent):
            raise RuntimeError(event.message)
    assert done is not None
    seconds = marks[steps] - marks[args.warmup]
    return {"examples_per_s": args.steps * args.batch_size / seconds, "test_acc": done.test_acc, "seconds": seconds}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="d2l_vgg11_small")
    parser.add_argument("--input-size", type=int, default=None, help="default: 64 on a CPU, 224 on CUDA")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=60, help="timed steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--dataset", default="shapes")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--ref-workers", type=int, default=None,
                        help="DataLoader workers of the reference (default: 4 on CUDA as d2l; 0 on a CPU, its "
                             "fastest setting when the workers compete with training for the same cores)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--init", default="kaiming", help="as the short-run recipe")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", default="", help="comma-separated rows to skip: fp32,channels_last,bf16")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    size = args.input_size or (224 if device.type == "cuda" else 64)
    spec = load_preset(args.preset).replace(input_size=size, num_classes=10)
    workers = args.ref_workers if args.ref_workers is not None else (4 if device.type == "cuda" else 0)
    if device.type == "cuda":
        where = torch.cuda.get_device_name(device)
    else:
        flags = cpu_flags()
        amx = "AMX-bf16" if "amx_bf16" in flags else ("AVX512-bf16" if "avx512_bf16" in flags else "no bf16 units")
        where = f"{_cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads, {amx}"
    print(f"# Training throughput: {args.preset} at {size}x{size}, batch {args.batch_size}, {args.steps} timed "
          f"steps after {args.warmup} warm-up, Adam lr {args.lr:g}, dataset {args.dataset}")
    print(f"device: {device} ({where}); torch {torch.__version__}\n", flush=True)

    rows = [("reference: DataLoader + PIL Resize, fp32, NCHW" + f" ({workers} workers)",
             lambda: reference_run(spec, args, device, workers))]
    skip = set(filter(None, args.skip.split(",")))
    if "fp32" not in skip:
        rows.append(("engine: tensors on device + F.interpolate, fp32, NCHW",
                     lambda: engine_run(spec, args, device, precision="fp32", channels_last=False)))
    if "channels_last" not in skip:
        rows.append(("engine + channels_last, fp32",
                     lambda: engine_run(spec, args, device, precision="fp32", channels_last=True)))
    if "bf16" not in skip:
        rows.append(("engine + channels_last + bf16 autocast",
                     lambda: engine_run(spec, args, device, precision="bf16", channels_last=True)))
    results = []
    for name, run in rows:
        result = run()
        results.append((name, result))
        print(f"  {name}: {result['examples_per_s']:.1f} examples/s, test acc {result['test_acc']:.3f}",
              file=sys.stderr, flush=True)
    reference = results[0][1]["examples_per_s"]
    print("| data path | examples/s | vs reference | test acc |")
    print("|---|---:|---:|---:|")
    for name, result in results:
        print(f"| {name} | {result['examples_per_s']:.1f} | {result['examples_per_s'] / reference:.2f}x | "
              f"{result['test_acc']:.3f} |")
    print("\nThe reference feeds ToTensor's [0, 1] pixels as d2l does; the engine normalises with the training "
          "set's mean and std, which is most of the accuracy gap after a short run.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
