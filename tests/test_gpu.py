"""The GPU sampler against a fake NVML (every error path), the psutil fallback, the CLI, and real NVML if present."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pynvml  # only for its error classes: the fake raises exactly what the real library raises
import pytest

from explorer import gpu as gpu_module
from explorer.cli import main
from explorer.gpu import NA, NO_GPU, CpuReading, GpuReading, GpuSampler, Snapshot, format_cpu, format_gpu_row, \
    format_process_rows, format_status, get_sampler

ROOT = Path(__file__).resolve().parents[1]
GIB = 2**30


def fake_gpu(**overrides: Any) -> dict[str, Any]:
    """What one fake GPU reports, in NVML's units (milliwatts, bytes, enum numbers)."""
    values: dict[str, Any] = dict(
        name="NVIDIA Fake 80GB", bus_id=b"00000000:3B:00.0", fan=None, temperature=41, pstate=0, persistence=1,
        power_mw=71_500, limit_mw=700_000, display=0, used=1 * GIB, total=80 * GIB, util_gpu=37, util_memory=12,
        ecc=0, compute_mode=0, processes=[SimpleNamespace(pid=4242, usedGpuMemory=512 * 2**20)], clock_sm=1980,
        clock_mem=3201)
    values.update(overrides)
    return values


class FakeNvml:
    """The subset of pynvml the sampler calls. ``errors`` maps a function name to the exception it raises."""

    def __init__(self, gpus: list[dict[str, Any]] | None = None, *, init_error: Exception | None = None) -> None:
        self.gpus = [fake_gpu()] if gpus is None else gpus
        self.init_error = init_error
        self.errors: dict[str, Exception] = {}
        self.calls: Counter[str] = Counter()
        self.process_names = {4242: b"/usr/bin/python3"}

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        if name in self.errors:
            raise self.errors[name]

    def nvmlInit(self) -> None:
        self._call("nvmlInit")
        if self.init_error is not None:
            raise self.init_error

    def nvmlShutdown(self) -> None:
        self._call("nvmlShutdown")

    def nvmlDeviceGetCount(self) -> int:
        self._call("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self._call("nvmlDeviceGetHandleByIndex")
        return index

    def _field(self, name: str, handle: int, key: str) -> Any:
        self._call(name)
        return self.gpus[handle][key]

    def nvmlDeviceGetName(self, h: int) -> str:
        return self._field("nvmlDeviceGetName", h, "name")

    def nvmlDeviceGetPciInfo(self, h: int) -> SimpleNamespace:
        return SimpleNamespace(busId=self._field("nvmlDeviceGetPciInfo", h, "bus_id"))

    def nvmlDeviceGetFanSpeed(self, h: int) -> int:
        value = self._field("nvmlDeviceGetFanSpeed", h, "fan")
        if value is None:  # a passively cooled card, as NVML reports it
            raise pynvml.NVMLError_NotSupported()
        return value

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> int:
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return self._field("nvmlDeviceGetTemperature", h, "temperature")

    def nvmlDeviceGetPerformanceState(self, h: int) -> int:
        return self._field("nvmlDeviceGetPerformanceState", h, "pstate")

    def nvmlDeviceGetPersistenceMode(self, h: int) -> int:
        return self._field("nvmlDeviceGetPersistenceMode", h, "persistence")

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        return self._field("nvmlDeviceGetPowerUsage", h, "power_mw")

    def nvmlDeviceGetEnforcedPowerLimit(self, h: int) -> int:
        return self._field("nvmlDeviceGetEnforcedPowerLimit", h, "limit_mw")

    def nvmlDeviceGetDisplayActive(self, h: int) -> int:
        return self._field("nvmlDeviceGetDisplayActive", h, "display")

    def nvmlDeviceGetMemoryInfo(self, h: int) -> SimpleNamespace:
        gpu = self.gpus[h]
        self._call("nvmlDeviceGetMemoryInfo")
        return SimpleNamespace(used=gpu["used"], total=gpu["total"], free=gpu["total"] - gpu["used"])

    def nvmlDeviceGetUtilizationRates(self, h: int) -> SimpleNamespace:
        gpu = self.gpus[h]
        self._call("nvmlDeviceGetUtilizationRates")
        return SimpleNamespace(gpu=gpu["util_gpu"], memory=gpu["util_memory"])

    def nvmlDeviceGetTotalEccErrors(self, h: int, error_type: int, counter_type: int) -> int:
        assert (error_type, counter_type) == (pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, pynvml.NVML_VOLATILE_ECC)
        return self._field("nvmlDeviceGetTotalEccErrors", h, "ecc")

    def nvmlDeviceGetComputeMode(self, h: int) -> int:
        return self._field("nvmlDeviceGetComputeMode", h, "compute_mode")

    def nvmlDeviceGetComputeRunningProcesses(self, h: int) -> list[SimpleNamespace]:
        return self._field("nvmlDeviceGetComputeRunningProcesses", h, "processes")

    def nvmlDeviceGetClockInfo(self, h: int, clock_type: int) -> int:
        key = {pynvml.NVML_CLOCK_SM: "clock_sm", pynvml.NVML_CLOCK_MEM: "clock_mem"}[clock_type]
        return self._field("nvmlDeviceGetClockInfo", h, key)

    def nvmlSystemGetProcessName(self, pid: int) -> bytes:
        self._call("nvmlSystemGetProcessName")
        return self.process_names[pid]


class FakeClock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(backend: FakeNvml, **kwargs: Any) -> tuple[GpuSampler, FakeClock]:
    clock = FakeClock()
    return GpuSampler(backend=backend, clock=clock, **kwargs), clock


# -- readings and formatting --------------------------------------------------------------------------------------
def test_reading_converts_nvml_units_and_enums() -> None:
    sampler, clock = make(FakeNvml())
    snapshot = sampler.sample_once()
    assert snapshot.available and snapshot.reason is None and snapshot.time == clock.now
    (gpu,) = snapshot.gpus
    assert gpu == GpuReading(
        index=0, name="NVIDIA Fake 80GB", fan_percent=None, temperature_c=41, performance_state="P0",
        persistence_mode=True, power_draw_w=71.5, power_limit_w=700.0, bus_id="00000000:3B:00.0",
        display_active=False, memory_used_bytes=GIB, memory_total_bytes=80 * GIB, utilization_gpu_percent=37,
        utilization_memory_percent=12, ecc_uncorrected=0, compute_mode="Default",
        processes=[{"pid": 4242, "name": "python3", "used_memory_bytes": 512 * 2**20}], clock_sm_mhz=1980,
        clock_mem_mhz=3201)


def test_clocks_the_card_does_not_report_are_none() -> None:
    backend = FakeNvml()
    backend.errors["nvmlDeviceGetClockInfo"] = pynvml.NVMLError_NotSupported()
    gpu = make(backend)[0].sample_once().gpus[0]
    assert gpu.clock_sm_mhz is None and gpu.clock_mem_mhz is None and gpu.temperature_c == 41


def test_nvidia_smi_row_and_process_rows() -> None:
    snapshot = make(FakeNvml([fake_gpu(fan=30, compute_mode=3, pstate=8)]))[0].sample_once()
    assert format_gpu_row(snapshot.gpus[0]) == [
        "0", "NVIDIA Fake 80GB", "30%", "41°C", "P8", "On", "72W / 700W", "00000000:3B:00.0", "Off",
        "1024MiB / 81920MiB (1%)", "37%", "12%", "0", "Exclusive-process"]
    assert format_process_rows(snapshot) == [["0", "4242", "python3", "512MiB"]]
    assert format_status(snapshot) == "1 NVIDIA GPU: NVIDIA Fake 80GB"


@pytest.mark.parametrize("function, field", [
    ("nvmlDeviceGetFanSpeed", "fan_percent"), ("nvmlDeviceGetTemperature", "temperature_c"),
    ("nvmlDeviceGetPerformanceState", "performance_state"), ("nvmlDeviceGetPersistenceMode", "persistence_mode"),
    ("nvmlDeviceGetPowerUsage", "power_draw_w"), ("nvmlDeviceGetDisplayActive", "display_active"),
    ("nvmlDeviceGetMemoryInfo", "memory_used_bytes"), ("nvmlDeviceGetUtilizationRates", "utilization_gpu_percent"),
    ("nvmlDeviceGetTotalEccErrors", "ecc_uncorrected"), ("nvmlDeviceGetComputeMode", "compute_mode"),
])
def test_a_field_the_card_does_not_support_is_none_and_shown_na(function: str, field: str) -> None:
    backend = FakeNvml()
    backend.errors[function] = pynvml.NVMLError_NotSupported()
    snapshot = make(backend)[0].sample_once()
    assert snapshot.available, "an unsupported field is no reason to give up on the GPU"
    gpu = snapshot.gpus[0]
    assert getattr(gpu, field) is None
    assert NA in format_gpu_row(gpu)


def test_mig_slice_like_card_reports_na_everywhere_but_still_counts() -> None:
    backend = FakeNvml()
    for name in ("nvmlDeviceGetUtilizationRates", "nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetPowerUsage",
                 "nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetTotalEccErrors"):
        backend.errors[name] = pynvml.NVMLError_NotSupported()
    backend.errors["nvmlDeviceGetDisplayActive"] = pynvml.NVMLError_NoPermission()
    backend.errors["nvmlDeviceGetPersistenceMode"] = pynvml.NVMLError_FunctionNotFound()  # an old driver
    snapshot = make(backend)[0].sample_once()
    row = format_gpu_row(snapshot.gpus[0])
    assert snapshot.available and snapshot.gpus[0].processes == []
    assert row[5:7] == [NA, NA] and row[8] == NA and row[10:13] == [NA, NA, NA]


def test_function_missing_from_an_old_pynvml_is_na() -> None:
    backend = FakeNvml()
    backend.nvmlDeviceGetDisplayActive = None  # type: ignore[assignment,method-assign]
    assert make(backend)[0].sample_once().gpus[0].display_active is None


def test_unknown_pstate_and_process_name_fallbacks() -> None:
    backend = FakeNvml([fake_gpu(pstate=pynvml.NVML_PSTATE_UNKNOWN,
                                 processes=[SimpleNamespace(pid=99999999, usedGpuMemory=None)])])
    gpu = make(backend)[0].sample_once().gpus[0]
    assert gpu.performance_state is None
    assert gpu.processes == [{"pid": 99999999, "name": None, "used_memory_bytes": None}]  # no such pid anywhere


def test_memory_v2_is_used_and_falls_back_to_v1_once() -> None:
    backend = FakeNvml()
    backend.nvmlMemory_v2 = pynvml.nvmlMemory_v2  # type: ignore[attr-defined]
    v1 = backend.nvmlDeviceGetMemoryInfo
    versions: list[Any] = []

    def memory_info(handle: int, version: Any = None) -> Any:
        versions.append(version)
        if version is not None:
            raise pynvml.NVMLError_FunctionNotFound()
        return v1(handle)

    backend.nvmlDeviceGetMemoryInfo = memory_info  # type: ignore[method-assign]
    sampler = make(backend)[0]
    assert sampler.sample_once().gpus[0].memory_used_bytes == GIB
    sampler.sample_once()
    assert versions == [pynvml.nvmlMemory_v2, None, None]


def test_several_gpus_and_json() -> None:
    backend = FakeNvml([fake_gpu(), fake_gpu(name="NVIDIA Other", processes=[])])
    snapshot = make(backend)[0].sample_once()
    assert [gpu.index for gpu in snapshot.gpus] == [0, 1]
    assert format_status(snapshot) == "2 NVIDIA GPUs: NVIDIA Fake 80GB, NVIDIA Other"
    data = json.loads(json.dumps(snapshot.to_dict()))
    assert set(data) == {"time", "available", "reason", "gpus", "cpu"}
    assert data["gpus"][0]["processes"][0]["pid"] == 4242 and data["gpus"][1]["name"] == "NVIDIA Other"


# -- errors: no driver, no GPU, failure mid-run, recovery ------------------------------------------------------------
@pytest.mark.parametrize("error, words", [
    (pynvml.NVMLError_LibraryNotFound(), "the NVIDIA driver library (libnvidia-ml.so) was not found"),
    (pynvml.NVMLError_DriverNotLoaded(), "the NVIDIA driver is not loaded"),
    (pynvml.NVMLError_NoPermission(), "no permission"),
    (pynvml.NVMLError_LibRmVersionMismatch(), "different versions"),
    (pynvml.NVMLError_Unknown(), "NVML could not start: Unknown Error"),
    (OSError("libnvidia-ml.so.1: cannot open shared object file"), "cannot open shared object file"),
])
def test_init_failure_gives_a_reason_and_cpu_readings(error: Exception, words: str) -> None:
    backend = FakeNvml(init_error=error)
    snapshot = make(backend)[0].sample_once()
    assert not snapshot.available and snapshot.gpus == []
    assert snapshot.reason is not None and snapshot.reason.startswith(f"{NO_GPU}: ") and words in snapshot.reason
    assert isinstance(snapshot.cpu, CpuReading)
    assert backend.calls["nvmlShutdown"] == 0, "shutdown only balances a successful init"


def test_driver_without_gpus() -> None:
    backend = FakeNvml(gpus=[])
    snapshot = make(backend)[0].sample_once()
    assert not snapshot.available and "reports no GPUs" in (snapshot.reason or "")
    assert backend.calls["nvmlInit"] == backend.calls["nvmlShutdown"] == 1


def test_init_is_retried_every_retry_s_then_recovers() -> None:
    backend = FakeNvml(init_error=pynvml.NVMLError_DriverNotLoaded())
    sampler, clock = make(backend, retry_s=30.0)
    for _ in range(10):  # ten seconds: no new attempt
        assert not sampler.sample_once().available
        clock.advance(1.0)
    assert backend.calls["nvmlInit"] == 1
    backend.init_error = None  # the driver comes up
    clock.advance(19.0)
    assert not sampler.sample_once().available  # 29 s after the failure
    clock.advance(1.0)
    snapshot = sampler.sample_once()
    assert snapshot.available and snapshot.reason is None and backend.calls["nvmlInit"] == 2


def test_gpu_lost_mid_run_changes_status_and_recovers() -> None:
    backend = FakeNvml([fake_gpu(), fake_gpu()])
    sampler, clock = make(backend, retry_s=30.0)
    assert sampler.sample_once().available
    backend.errors["nvmlDeviceGetUtilizationRates"] = pynvml.NVMLError_GpuIsLost()
    clock.advance(1.0)
    snapshot = sampler.sample_once()  # must not raise
    assert not snapshot.available and snapshot.gpus == []
    assert "reading GPU 0 failed: GPU is lost" in (snapshot.reason or "")
    assert backend.calls["nvmlShutdown"] == 1 and sampler.latest() is snapshot
    calls = sum(backend.calls.values())
    clock.advance(10.0)
    assert sampler.sample_once().reason == snapshot.reason
    assert sum(backend.calls.values()) == calls, "no NVML calls until the retry is due"
    del backend.errors["nvmlDeviceGetUtilizationRates"]
    backend.gpus.pop()  # it comes back with one GPU fewer
    clock.advance(20.0)
    recovered = sampler.sample_once()
    assert recovered.available and len(recovered.gpus) == 1 and backend.calls["nvmlInit"] == 2


def test_any_exception_mid_run_is_contained() -> None:
    backend = FakeNvml()
    sampler = make(backend)[0]
    sampler.sample_once()
    backend.errors["nvmlDeviceGetTemperature"] = RuntimeError("ctypes went wrong")
    snapshot = sampler.sample_once()
    assert not snapshot.available and "ctypes went wrong" in (snapshot.reason or "")


def test_listing_gpus_failing_after_init_shuts_nvml_down() -> None:
    backend = FakeNvml()
    backend.errors["nvmlDeviceGetHandleByIndex"] = pynvml.NVMLError_GpuIsLost()
    snapshot = make(backend)[0].sample_once()
    assert not snapshot.available and "listing the GPUs failed: GPU is lost" in (snapshot.reason or "")
    assert backend.calls["nvmlShutdown"] == 1


def test_nvml_is_initialised_once_and_handles_are_cached() -> None:
    backend = FakeNvml([fake_gpu(), fake_gpu()])
    sampler = make(backend)[0]
    for _ in range(5):
        sampler.sample_once()
    assert backend.calls["nvmlInit"] == 1 and backend.calls["nvmlDeviceGetCount"] == 1
    assert backend.calls["nvmlDeviceGetHandleByIndex"] == backend.calls["nvmlDeviceGetName"] == 2
    assert backend.calls["nvmlDeviceGetUtilizationRates"] == 10
    assert backend.calls["nvmlSystemGetProcessName"] == 1, "process names are cached by pid"


def test_missing_pynvml_package_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    snapshot = GpuSampler().sample_once()
    assert not snapshot.available and "nvidia-ml-py" in (snapshot.reason or "")


# -- history, latest, thread ---------------------------------------------------------------------------------------
def test_history_is_bounded_in_time_and_count() -> None:
    sampler, clock = make(FakeNvml(), interval_s=1.0, history_s=10.0)
    for _ in range(50):
        sampler.sample_once()
        clock.advance(1.0)
    history = sampler.history()
    assert len(history) == 11 and history[-1].time - history[0].time == 10.0
    assert [s.time for s in sampler.history(3.0)] == [s.time for s in history[-4:]]
    for _ in range(100):  # a clock that doesn't move can't grow it either
        sampler.sample_once()
    assert len(sampler.history()) <= 11


def test_latest_takes_a_first_sample_then_serves_the_cache() -> None:
    backend = FakeNvml()
    sampler = make(backend)[0]
    first = sampler.latest()
    assert sampler.history() == [first]
    calls = sum(backend.calls.values())
    assert sampler.latest() is first and sum(backend.calls.values()) == calls


def test_thread_samples_in_the_background_and_stops() -> None:
    backend = FakeNvml()
    sampler = GpuSampler(backend=backend, interval_s=0.02)
    sampler.start()
    sampler.start()  # idempotent
    try:
        deadline = time.monotonic() + 2.0
        while len(sampler.history()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(sampler.history()) >= 3 and sampler.running
        assert sampler._thread is not None and sampler._thread.daemon
    finally:
        sampler.stop()
    assert not sampler.running and backend.calls["nvmlShutdown"] == 1
    count = len(sampler.history())
    time.sleep(0.06)
    assert len(sampler.history()) == count


def test_get_sampler_is_one_running_daemon() -> None:
    sampler = get_sampler()
    try:
        assert get_sampler() is sampler and sampler.running and sampler.interval_s == 1.0
        assert isinstance(sampler.latest(), Snapshot)
    finally:
        sampler.stop()
    assert get_sampler() is sampler and sampler.running  # a stopped singleton starts again
    sampler.stop()


@pytest.mark.parametrize("kwargs", [dict(interval_s=0), dict(history_s=-1.0), dict(retry_s=math.nan)])
def test_bad_settings_raise_value_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        GpuSampler(backend=FakeNvml(), **kwargs)


# -- CPU and RAM (psutil) ------------------------------------------------------------------------------------------
def test_cpu_and_ram_readings_are_sane() -> None:
    sampler = make(FakeNvml(init_error=pynvml.NVMLError_LibraryNotFound()))[0]
    busy_until = time.perf_counter() + 0.05
    while time.perf_counter() < busy_until:  # some CPU time between two readings
        pass
    cpu = sampler.sample_once().cpu
    assert cpu.cpu_percent is not None and 0.0 <= cpu.cpu_percent <= 100.0
    assert cpu.ram_total_bytes and 0 < (cpu.ram_used_bytes or 0) <= cpu.ram_total_bytes
    assert 0.0 <= (cpu.ram_percent or 0.0) <= 100.0 and (cpu.process_rss_bytes or 0) > 10 * 2**20
    assert (cpu.cpu_count or 0) >= 1
    number = r"[\d.]+"
    assert re.fullmatch(rf"CPU {number}% across \d+ cores · RAM {number} GiB / {number} GiB \({number}%\) · "
                        rf"this process {number} GiB", format_cpu(cpu))


def test_psutil_failing_gives_na_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise OSError("/proc is not mounted")

    monkeypatch.setattr(gpu_module.psutil, "virtual_memory", broken)
    sampler = make(FakeNvml())[0]
    snapshot = sampler.sample_once()
    assert snapshot.available and snapshot.cpu.ram_total_bytes is None
    assert "RAM n/a" in format_cpu(snapshot.cpu)


# -- the CLI ---------------------------------------------------------------------------------------------------------
def test_cli_json_schema_in_a_subprocess() -> None:
    result = subprocess.run([sys.executable, "-m", "explorer", "gpu", "--json"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {"available", "reason", "gpus", "cpu"}
    assert isinstance(data["available"], bool) and isinstance(data["gpus"], list)
    assert set(data["cpu"]) >= {"cpu_percent", "ram_used_bytes", "ram_total_bytes", "ram_percent"}
    assert data["cpu"]["ram_total_bytes"] > 0
    if data["available"]:
        assert data["reason"] is None and data["gpus"] and {"index", "name", "processes"} <= set(data["gpus"][0])
    else:  # this machine: no driver
        assert isinstance(data["reason"], str) and data["reason"].startswith(NO_GPU) and data["gpus"] == []


def test_cli_watch_count_prints_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gpu", "--watch", "--count", "3", "--interval", "0.05", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    times = [json.loads(line)["time"] for line in lines]
    assert times == sorted(times)


def test_cli_text_shows_the_table(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from explorer import gpu_cli

    monkeypatch.setattr(gpu_cli, "GpuSampler", lambda **kwargs: GpuSampler(backend=FakeNvml(), **kwargs))
    monkeypatch.setattr(gpu_cli, "_CPU_WINDOW_S", 0.0)
    assert main(["gpu"]) == 0
    out = capsys.readouterr().out
    assert "1 NVIDIA GPU: NVIDIA Fake 80GB" in out and "Persistence-M" in out and "GPU-Util" in out
    assert "1024MiB / 81920MiB (1%)" in out and "python3" in out and "CPU " in out
    assert re.search(r"^0\s+NVIDIA Fake 80GB\s+n/a\s+41°C\s+P0", out, re.MULTILINE)


def test_cli_text_without_gpu(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from explorer import gpu_cli

    monkeypatch.setattr(gpu_cli, "GpuSampler", lambda **kwargs: GpuSampler(
        backend=FakeNvml(init_error=pynvml.NVMLError_LibraryNotFound()), **kwargs))
    monkeypatch.setattr(gpu_cli, "_CPU_WINDOW_S", 0.0)
    assert main(["gpu", "--count", "2", "--interval", "0.01"]) == 0
    out = capsys.readouterr().out
    assert out.count(f"{NO_GPU}: the NVIDIA driver library (libnvidia-ml.so) was not found") == 2
    assert out.count("Showing CPU and RAM instead.") == 2


# -- the project's rule: only explorer/gpu.py talks to NVML ---------------------------------------------------------
def test_only_the_gpu_module_imports_pynvml() -> None:
    # A line-based check (not ast): it must not depend on every other module parsing while others edit them.
    pattern = re.compile(r"^\s*(import\s+pynvml\b|from\s+pynvml\b)", re.MULTILINE)
    importers = sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "explorer").rglob("*.py")
                       if pattern.search(path.read_text(encoding="utf-8")))
    assert importers == ["explorer/gpu.py"]


# -- real NVML, where there is a GPU -----------------------------------------------------------------------------------
def _real_gpu_reason() -> str | None:
    try:
        import torch

        if not torch.cuda.is_available():
            return "torch.cuda.is_available() is False"
        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
    except Exception as exc:
        return f"no NVML: {exc}"
    return None


@pytest.mark.skipif(_real_gpu_reason() is not None, reason=str(_real_gpu_reason()))
def test_real_nvml_readings_are_sane() -> None:
    sampler = GpuSampler()
    try:
        snapshot = sampler.sample_once()
        assert snapshot.available, snapshot.reason
        pynvml.nvmlInit()
        try:
            assert len(snapshot.gpus) == pynvml.nvmlDeviceGetCount()
        finally:
            pynvml.nvmlShutdown()
        for gpu in snapshot.gpus:
            assert gpu.name and gpu.name != NA
            assert gpu.memory_total_bytes and 0 <= (gpu.memory_used_bytes or 0) <= gpu.memory_total_bytes
            assert gpu.temperature_c is None or 0 < gpu.temperature_c < 120
            assert gpu.performance_state is None or re.fullmatch(r"P\d{1,2}", gpu.performance_state)
            assert gpu.utilization_gpu_percent is None or 0 <= gpu.utilization_gpu_percent <= 100
            assert gpu.power_draw_w is None or 0 < gpu.power_draw_w < 2000
            assert gpu.bus_id is None or re.fullmatch(r"[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]",
                                                      gpu.bus_id)
            assert gpu.compute_mode in (None, "Default", "Exclusive-thread", "Prohibited", "Exclusive-process")
            assert gpu.clock_sm_mhz is None or 0 < gpu.clock_sm_mhz < 5000
            assert gpu.clock_mem_mhz is None or 0 < gpu.clock_mem_mhz < 20000
            assert len(format_gpu_row(gpu)) == 14
        json.dumps(snapshot.to_dict())
        started = time.perf_counter()
        sampler.sample_once()
        assert time.perf_counter() - started < 0.1, "a sample with cached handles should take milliseconds"
    finally:
        sampler.stop()
