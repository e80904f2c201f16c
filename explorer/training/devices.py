"""Where a run trains: device and precision choices, free memory and peak-memory readings."""
from __future__ import annotations

import gc
import os
from functools import lru_cache

import torch

from ..specs import SpecError


class DeviceUnavailable(SpecError):
    """The device asked for does not exist on this machine."""

    def __init__(self, message: str, message_zh: str = "") -> None:
        super().__init__("device", message, message_zh)


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU. Under torchrun each process takes its ``LOCAL_RANK``'s GPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailable("CUDA is not available on this machine (no GPU, or a CPU-only PyTorch); "
                                    "choose device 'cpu' or 'auto'",
                                    "这台机器上没有可用的 `CUDA`（没有 GPU，或装的是仅支持 CPU 的 PyTorch）；"
                                    "请把设备选为 `cpu` 或 `auto`")
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where that file does not exist)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_fast_bf16() -> bool:
    """Whether the CPU computes bf16 natively (AMX or AVX512-bf16); elsewhere bf16 is emulated and slower."""
    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())


def resolve_precision(precision: str, device: torch.device) -> str:
    """``fp32`` or ``bf16`` (what autocast will do); ``auto`` picks bf16 where the hardware has it."""
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        return "bf16" if cpu_has_fast_bf16() else "fp32"
    return precision


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """bf16 autocast on CUDA or CPU, or a disabled autocast for fp32."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def free_memory_bytes(device: torch.device) -> int | None:
    """Free GPU memory (``torch.cuda.mem_get_info``) or available RAM (psutil); None when unknown."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a runtime dependency
        return None
    return int(psutil.virtual_memory().available)


def process_rss_bytes() -> int | None:
    """This process's resident memory."""
    try:
        import psutil
    except ImportError:  # pragma: no cover
        return None
    return int(psutil.Process(os.getpid()).memory_info().rss)


class PeakMemory:
    """Peak memory of a run, as growth over what the process held when the run started.

    CUDA: ``torch.cuda.max_memory_allocated`` minus the memory allocated at the start. :meth:`end_first_step`
    (called after the first optimizer step) also records the peak of that step, when cuDNN's autotuning tries
    algorithms with large workspaces and the optimizer creates its state, and starts a fresh peak for the
    steady state (:meth:`steady_peak_bytes`).

    CPU: the growth of the process's resident memory. Where Linux lets the process reset its high-water mark
    (``/proc/self/clear_refs``), the true peak (``VmHWM``) is read; elsewhere the RSS sampled whenever
    :meth:`sample` is called.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.baseline = 0
        self.peak = 0
        self.first_step_peak: int | None = None
        self.high_water_mark = False
        if device.type == "cuda":
            self.baseline = int(torch.cuda.memory_allocated(device))
            torch.cuda.reset_peak_memory_stats(device)
            self.kind = "cuda max allocated"
        else:
            self.high_water_mark = _reset_high_water_mark()
            self.baseline = process_rss_bytes() or 0
            self.peak = self.baseline
            self.kind = "process RSS growth" if self.baseline else "unknown"

    def sample(self) -> None:
        if self.device.type != "cuda":
            self.peak = max(self.peak, process_rss_bytes() or 0, (_high_water_mark() or 0) if self.high_water_mark
                            else 0)

    def end_first_step(self) -> None:
        """Record the first step's peak; from now on :meth:`steady_peak_bytes` measures the steps after it."""
        if self.device.type == "cuda" and self.first_step_peak is None:
            self.first_step_peak = max(int(torch.cuda.max_memory_allocated(self.device)) - self.baseline, 0)
            torch.cuda.reset_peak_memory_stats(self.device)

    def steady_peak_bytes(self) -> int | None:
        """CUDA: the peak since the end of the first step; None on the CPU or before that step ended."""
        if self.device.type != "cuda" or self.first_step_peak is None:
            return None
        return max(int(torch.cuda.max_memory_allocated(self.device)) - self.baseline, 0)

    def peak_bytes(self) -> int | None:
        if self.device.type == "cuda":
            since = max(int(torch.cuda.max_memory_allocated(self.device)) - self.baseline, 0)
            return max(since, self.first_step_peak or 0)
        if not self.baseline:
            return None
        self.sample()
        return max(self.peak - self.baseline, 0)


def _reset_high_water_mark() -> bool:
    """Reset this process's peak RSS (Linux ``clear_refs``); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return _high_water_mark() is not None


def _high_water_mark() -> int | None:
    """This process's peak RSS since the last reset (``VmHWM``), in bytes."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def release_memory(device: torch.device | None) -> None:
    """Collect garbage and hand cached CUDA blocks back to the driver."""
    gc.collect()
    if device is not None and device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()
