"""Which engine settings pay on a GPU: precision x memory format (and torch.compile for the host-bound GoogLeNet),
each measured with the engine path of ``gpu_suite.py`` in one process, side by side.

    python3 benchmarks/gpu_ablation.py --out DIR [--budget 200]

Prints a table and writes ``DIR/gpu_ablation.json``. Without CUDA it runs a toy version (code paths only).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_suite import SpeedPlan, _release_cuda, engine_path  # noqa: E402

SETUPS = (("VGG-11/4", "d2l_vgg11_small", 224), ("NiN", "d2l_nin", 224), ("GoogLeNet", "d2l_googlenet", 96))
VARIANTS = (("bf16", True), ("bf16", False), ("fp32", False), ("fp32", True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--budget", type=float, default=200.0, help="seconds; compile runs only if time is left")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        plan = SpeedPlan(batch=128, train_images=60_000, warmup_a=0, timed_a=0, warmup_b=20, timed_b=100, workers=0,
                         loader_batches=0, sizes={}, setups=())
    else:
        plan = SpeedPlan(batch=4, train_images=64, warmup_a=0, timed_a=0, warmup_b=1, timed_b=2, workers=0,
                         loader_batches=0, sizes={}, setups=())
    rows: list[dict[str, Any]] = []
    for label, preset, size in SETUPS:
        size = size if cuda else {"d2l_nin": 72, "d2l_googlenet": 64}.get(preset, 32)
        for precision, channels_last in VARIANTS:
            try:
                result = engine_path(preset, size, plan, device, precision=precision, channels_last=channels_last)
                rows.append({"setup": label, "precision": precision, "channels_last": channels_last,
                             "compile": False, "examples_per_s": round(result["examples_per_s"], 1)})
            except Exception as exc:  # noqa: BLE001 - recorded
                rows.append({"setup": label, "precision": precision, "channels_last": channels_last,
                             "compile": False, "error": f"{type(exc).__name__}: {exc}"[:500]})
            _release_cuda()
            print(rows[-1], flush=True)
    for label, preset, size in SETUPS[::-1]:  # GoogLeNet first: it is the host-bound one
        if not cuda or time.perf_counter() - start > args.budget - 70:
            rows.append({"setup": label, "compile": True, "skipped": "no CUDA or no time left"})
            continue
        best = max((row for row in rows if row["setup"] == label and "examples_per_s" in row),
                   key=lambda row: row["examples_per_s"])
        try:
            result = engine_path(preset, size, plan, device, precision=best["precision"],
                                 channels_last=best["channels_last"], compile_model=True)
            rows.append({"setup": label, "precision": best["precision"], "channels_last": best["channels_last"],
                         "compile": True, "examples_per_s": round(result["examples_per_s"], 1),
                         "seconds_to_first_mark": round(result["seconds_to_first_mark"], 1)})
        except Exception as exc:  # noqa: BLE001 - recorded
            rows.append({"setup": label, "compile": True, "error": f"{type(exc).__name__}: {exc}"[:500]})
        _release_cuda()
        print(rows[-1], flush=True)
    print("\n| setup | precision | channels_last | compile | examples/s |\n|---|---|---|---|---:|")
    for row in rows:
        print(f"| {row['setup']} | {row.get('precision', '')} | {row.get('channels_last', '')} | {row['compile']} | "
              f"{row.get('examples_per_s', row.get('error', row.get('skipped')))} |")
    device_name = torch.cuda.get_device_name(0) if cuda else "cpu"
    (args.out / "gpu_ablation.json").write_text(json.dumps({"device": device_name, "torch": torch.__version__,
                                                            "rows": rows}, indent=2))
    print(f"total {time.perf_counter() - start:.0f} s on {device_name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
