"""``python -m explorer gpu [--json] [--watch] [--count N]``: nvidia-smi's table through NVML, or CPU and RAM."""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Sequence

from .gpu import COLUMNS, PROCESS_COLUMNS, GpuSampler, Snapshot, format_cpu, format_gpu_row, format_process_rows, \
    format_status

# The CPU % is measured between two readings; a one-shot command waits this long after the first baseline.
_CPU_WINDOW_S = 0.2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``gpu`` command to the main CLI's subparsers."""
    parser = subparsers.add_parser("gpu", help="GPU readings through NVML (CPU and RAM when there is no GPU)",
                                   description="Print what nvidia-smi shows, read through NVML. Without an NVIDIA "
                                               "GPU, say why and print CPU and RAM readings instead.")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object {available, reason, gpus, cpu, time} (one per line with --watch)")
    parser.add_argument("--watch", action="store_true", help="refresh every --interval seconds until Ctrl-C")
    parser.add_argument("--count", type=_positive_int, default=None, help="stop after N readings (implies --watch)")
    parser.add_argument("--interval", type=_positive_float, default=1.0, help="seconds between readings (default 1)")
    parser.set_defaults(func=cmd_gpu)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def cmd_gpu(args: argparse.Namespace) -> int:
    # A private sampler without its thread: the command reads NVML itself, at its own pace.
    sampler = GpuSampler(interval_s=args.interval)
    args.watch = args.watch or args.count is not None
    interactive = args.watch and not args.json and sys.stdout.isatty()
    try:
        time.sleep(_CPU_WINDOW_S)
        readings = 0
        while True:
            snapshot = sampler.sample_once()
            readings += 1
            if args.json:
                print(json.dumps(snapshot.to_dict(), indent=None if args.watch else 2), flush=True)
            else:
                if interactive:
                    print("\x1b[H\x1b[2J", end="")  # clear the terminal, as `watch` does
                elif readings > 1:
                    print()
                print(format_snapshot(snapshot), flush=True)
            if not args.watch or (args.count is not None and readings >= args.count):
                return 0
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
    finally:
        sampler.stop()


def format_snapshot(snapshot: Snapshot) -> str:
    """The text the command prints: status, the nvidia-smi table, processes, CPU and RAM."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snapshot.time))
    lines = [f"{stamp}  {format_status(snapshot)}"]
    if snapshot.available:
        lines += ["", *_table([name for name, _ in COLUMNS], [format_gpu_row(gpu) for gpu in snapshot.gpus])]
        process_rows = format_process_rows(snapshot)
        lines += ["", *(_table(list(PROCESS_COLUMNS), process_rows) if process_rows else ["No processes listed."])]
    else:
        lines.append("Showing CPU and RAM instead.")
    lines += ["", format_cpu(snapshot.cpu)]
    return "\n".join(lines)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    return ["  ".join(f"{str(cell):<{width}}" for cell, width in zip(row, widths)).rstrip()
            for row in (headers, *rows)]
