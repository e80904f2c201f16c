"""The live GPU monitor: one NVML sampler per process, with a CPU/RAM fallback.

NVML (the library behind ``nvidia-smi``) is reached through ``nvidia-ml-py`` (``import pynvml``); this is the only
module of the project that imports it. :func:`get_sampler` returns the process-wide :class:`GpuSampler`: a daemon
thread that takes one :class:`Snapshot` a second and keeps about five minutes of them. Readers (the UI's timers,
the training panel) call :meth:`GpuSampler.latest` / :meth:`GpuSampler.history`, which return cached readings and
never touch NVML, so ten open browsers cost what one does.

Nothing here raises to the caller: no driver, no GPU, or an NVML call failing mid-run gives a snapshot with
``available=False`` and a human ``reason``, plus the CPU and RAM readings (psutil). NVML is initialised once, its
device handles are cached, and after a failure initialisation is retried every ``retry_s`` seconds.

The NVML backend is injectable (``GpuSampler(backend=fake)``): any object with pynvml's function names whose
errors carry pynvml's numeric ``value`` (tests raise pynvml's own ``NVMLError_*`` classes).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

try:
    import psutil
except ImportError:  # pragma: no cover - psutil is a runtime dependency; degrade to "n/a" without it
    psutil = None

log = logging.getLogger(__name__)

NO_GPU = "No NVIDIA GPU detected"
RETRY_S = 30.0  # seconds between attempts to reach NVML after it failed

# NVML constants and return codes from nvml.h (stable across drivers). Spelled here, not read from pynvml, so
# that a fake backend needs only functions.
_TEMPERATURE_GPU = 0
_CLOCK_SM = 1  # nvmlClockType_t: NVML_CLOCK_SM (nvidia-smi's clocks.sm), NVML_CLOCK_MEM (clocks.mem)
_CLOCK_MEM = 2
_MEMORY_ERROR_TYPE_UNCORRECTED = 1
_VOLATILE_ECC = 0  # counts since the driver loaded, as nvidia-smi's "Volatile Uncorr. ECC"
_PSTATE_UNKNOWN = 32
_ERROR_NOT_SUPPORTED = 3
_ERROR_NO_PERMISSION = 4
_ERROR_FUNCTION_NOT_FOUND = 13
# A field that fails with one of these is shown as "n/a"; any other error means NVML itself is in trouble.
_FIELD_NOT_AVAILABLE = frozenset({_ERROR_NOT_SUPPORTED, _ERROR_NO_PERMISSION, _ERROR_FUNCTION_NOT_FOUND})

_COMPUTE_MODES = {0: "Default", 1: "Exclusive-thread", 2: "Prohibited", 3: "Exclusive-process"}

# Why nvmlInit failed, by NVML return code, in words a student understands.
_INIT_REASONS = {
    12: "the NVIDIA driver library (libnvidia-ml.so) was not found",
    9: "the NVIDIA driver is not loaded (no NVIDIA GPU in this machine, or its kernel module is not running)",
    4: "this user has no permission to talk to the NVIDIA driver",
    17: "the operating system blocked access to the NVIDIA driver",
    18: "the NVIDIA driver and its library have different versions (a driver update that needs a reboot?)",
    28: "the NVIDIA driver found no usable GPU",
    15: "the GPU has fallen off the bus (GPU is lost)",
}


@dataclass(frozen=True)
class GpuReading:
    """One GPU at one moment: the columns of ``nvidia-smi``. ``None`` means the card doesn't report it ("n/a")."""

    index: int  # NVML's index, PCI bus order; CUDA numbers fastest-first unless CUDA_DEVICE_ORDER=PCI_BUS_ID
    name: str
    fan_percent: int | None  # the fan speed asked for, % of maximum; None on passively cooled cards
    temperature_c: int | None  # GPU core temperature
    performance_state: str | None  # "P0" (maximum performance) .. "P12" (minimum)
    persistence_mode: bool | None  # the driver stays loaded while no program uses the GPU
    power_draw_w: float | None
    power_limit_w: float | None  # the enforced power cap
    bus_id: str | None  # PCI address, domain:bus:device.function
    display_active: bool | None  # a display is being driven by this GPU
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    utilization_gpu_percent: int | None  # % of the last sample period with a kernel running
    utilization_memory_percent: int | None  # % of the last sample period with device memory being read or written
    ecc_uncorrected: int | None  # uncorrectable memory errors since the driver loaded; None when ECC is off
    compute_mode: str | None  # "Default", "Exclusive-process" or "Prohibited"
    processes: list[dict[str, Any]]  # [{"pid", "name", "used_memory_bytes"}]; [] also where NVML can't list them
    clock_sm_mhz: int | None = None  # the current SM clock (nvidia-smi's clocks.sm)
    clock_mem_mhz: int | None = None  # the current memory clock (clocks.mem)


@dataclass(frozen=True)
class CpuReading:
    """The host: whole-machine CPU and RAM, and this process's resident memory. ``None``: not measurable."""

    cpu_percent: float | None  # all cores together, since the previous reading
    ram_used_bytes: int | None
    ram_total_bytes: int | None
    ram_percent: float | None
    process_rss_bytes: int | None  # this Python process
    cpu_count: int | None  # logical cores


@dataclass(frozen=True)
class Snapshot:
    """Everything read at one moment. ``available`` is False (and ``reason`` says why) when NVML gave no GPUs."""

    time: float  # time.time() when the reading started
    available: bool
    reason: str | None
    gpus: list[GpuReading]
    cpu: CpuReading

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``time``, ``available``, ``reason``, ``gpus`` (list of dicts) and ``cpu``."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class _Device:
    """What NVML says about a GPU that doesn't change while the driver is loaded."""

    index: int
    handle: Any
    name: str
    bus_id: str | None


def _nvml_code(exc: BaseException) -> int | None:
    value = getattr(exc, "value", None)
    return value if isinstance(value, int) else None


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # NVMLError.__str__ asks the library, which may be gone
        text = ""
    code = _nvml_code(exc)
    if not text:
        text = type(exc).__name__
    return f"{text} (NVML error {code})" if code is not None else text


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class _CpuMeter:
    """CPU busy % between two readings, from psutil's cumulative times (its own baseline, any thread)."""

    def __init__(self) -> None:
        self._process = psutil.Process() if psutil is not None else None
        self._cpu_count = psutil.cpu_count() if psutil is not None else None  # fixed: read once
        self._last = self._times()

    @staticmethod
    def _times() -> tuple[float, float] | None:
        if psutil is None:
            return None
        times = psutil.cpu_times()
        # Linux counts guest time inside user time too.
        total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
        idle = times.idle + getattr(times, "iowait", 0.0)
        return total - idle, total

    def read(self) -> CpuReading:
        if psutil is None:
            return CpuReading(None, None, None, None, None, None)
        cpu_percent = None
        try:
            now = self._times()
            if self._last is not None and now is not None and now[1] - self._last[1] > 0:
                busy = (now[0] - self._last[0]) / (now[1] - self._last[1])
                cpu_percent = round(min(max(busy, 0.0), 1.0) * 100.0, 1)
            self._last = now
            memory = psutil.virtual_memory()
            rss = self._process.memory_info().rss if self._process is not None else None
            return CpuReading(cpu_percent=cpu_percent, ram_used_bytes=int(memory.total - memory.available),
                              ram_total_bytes=int(memory.total), ram_percent=float(memory.percent),
                              process_rss_bytes=int(rss) if rss is not None else None, cpu_count=self._cpu_count)
        except Exception as exc:  # psutil.Error, OSError in a locked-down container
            log.debug("psutil reading failed: %s", exc)
            return CpuReading(cpu_percent, None, None, None, None, None)


class GpuSampler:
    """Reads NVML (or only CPU/RAM) once per ``interval_s`` in a daemon thread and keeps ``history_s`` of it.

    Args:
        backend: the NVML module; ``None`` imports ``pynvml`` on first use. Tests pass a fake.
        interval_s: seconds between samples of the background thread.
        history_s: how far back :meth:`history` reaches.
        retry_s: after NVML failed (init or mid-run), seconds until the next attempt to initialise it.
        clock: wall clock for :attr:`Snapshot.time`, the history window and retries (tests inject one).
    """

    def __init__(self, backend: Any = None, interval_s: float = 1.0, history_s: float = 300.0, *,
                 retry_s: float = RETRY_S, clock: Callable[[], float] = time.time) -> None:
        for name, value in (("interval_s", interval_s), ("history_s", history_s), ("retry_s", retry_s)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        self.interval_s = float(interval_s)
        self.history_s = float(history_s)
        self.retry_s = float(retry_s)
        self._backend = backend
        self._clock = clock
        self._cpu = _CpuMeter()
        self._sample_lock = threading.Lock()  # one sample at a time: NVML state, CPU baseline
        self._data_lock = threading.Lock()  # the history, so readers never wait for a sample in progress
        self._history: deque[Snapshot] = deque(maxlen=int(math.ceil(history_s / interval_s)) + 1)
        self._latest: Snapshot | None = None
        self._initialised = False  # nvmlInit succeeded and no nvmlShutdown since
        self._devices: list[_Device] | None = None  # None: no usable GPUs (yet)
        self._reason: str | None = None  # why there are no GPU readings
        self._next_init = -math.inf
        self._process_names: dict[int, str | None] = {}
        self._memory_v2 = True  # try nvmlDeviceGetMemoryInfo(..., version=v2) until the driver refuses it
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- the thread ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the daemon thread (no-op when it runs)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="gpu-sampler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and shut NVML down; :meth:`start` may be called again."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._sample_lock:
            self._shutdown_nvml()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        deadline = time.monotonic()
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception as exc:  # sample_once catches everything; this keeps the thread alive regardless
                log.warning("GPU sampler: unexpected error: %s", exc)
            deadline += self.interval_s
            delay = deadline - time.monotonic()
            if delay < 0:  # fell behind (a suspended machine): don't burst to catch up
                deadline, delay = time.monotonic(), 0.0
            self._stop.wait(delay)

    # -- readers -------------------------------------------------------------------------------------------------
    def latest(self) -> Snapshot:
        """The newest snapshot (cached); takes one now only if none was taken yet."""
        snapshot = self._latest
        if snapshot is None:
            with self._sample_lock:
                if self._latest is None:
                    return self._sample_locked()
            snapshot = self._latest
        assert snapshot is not None
        return snapshot

    def history(self, seconds: float | None = None) -> list[Snapshot]:
        """Snapshots oldest first: all kept ones, or those of the last ``seconds`` before the newest."""
        with self._data_lock:
            snapshots = list(self._history)
        if seconds is None or not snapshots:
            return snapshots
        start = snapshots[-1].time - seconds
        return [snapshot for snapshot in snapshots if snapshot.time >= start]

    # -- sampling ------------------------------------------------------------------------------------------------
    def sample_once(self) -> Snapshot:
        """Take one snapshot now, store it in the history and return it. Never raises."""
        with self._sample_lock:
            return self._sample_locked()

    def _sample_locked(self) -> Snapshot:
        now = self._clock()
        gpus: list[GpuReading] = []
        if self._ensure_nvml(now):
            for device in self._devices or ():
                try:
                    gpus.append(self._read_device(device))
                except Exception as exc:  # the GPU fell off the bus, the driver went away, ...
                    gpus = []
                    self._fail(now, f"NVIDIA GPU monitoring stopped: reading GPU {device.index} failed: "
                                    f"{_describe(exc)}. Retrying every {self.retry_s:g} s")
                    break
        snapshot = Snapshot(time=now, available=bool(gpus), reason=None if gpus else self._reason, gpus=gpus,
                            cpu=self._cpu.read())
        with self._data_lock:
            self._history.append(snapshot)
            while self._history and self._history[0].time < now - self.history_s:
                self._history.popleft()
            self._latest = snapshot
        return snapshot

    def _ensure_nvml(self, now: float) -> bool:
        """True when NVML is initialised with at least one GPU; otherwise sets ``_reason``."""
        if self._devices is not None:
            return True
        if now < self._next_init:
            return False
        backend = self._backend
        if backend is None:
            try:
                import pynvml  # the only import of pynvml in the project
            except ImportError:
                self._fail(now, f"{NO_GPU}: the nvidia-ml-py package (import pynvml) is not installed")
                return False
            backend = self._backend = pynvml
        try:
            backend.nvmlInit()
        except Exception as exc:
            code = _nvml_code(exc)
            detail = _INIT_REASONS.get(code) if code is not None else None
            self._fail(now, f"{NO_GPU}: {detail or 'NVML could not start: ' + _describe(exc)}")
            return False
        self._initialised = True
        try:
            count = int(backend.nvmlDeviceGetCount())
            devices = []
            for index in range(count):
                handle = backend.nvmlDeviceGetHandleByIndex(index)
                name = self._optional("nvmlDeviceGetName", handle)
                pci = self._optional("nvmlDeviceGetPciInfo", handle)
                bus_id = getattr(pci, "busId", None) if pci is not None else None
                devices.append(_Device(index=index, handle=handle, name=_text(name) if name is not None else "n/a",
                                       bus_id=_text(bus_id) if bus_id is not None else None))
        except Exception as exc:
            self._fail(now, f"{NO_GPU}: NVML started but listing the GPUs failed: {_describe(exc)}")
            return False
        if not devices:
            self._fail(now, f"{NO_GPU}: the NVIDIA driver is loaded but reports no GPUs")
            return False
        if self._reason is not None:
            log.info("GPU monitor: NVML is back with %d GPU(s)", len(devices))
        self._devices, self._reason = devices, None
        return True

    def _fail(self, now: float, reason: str) -> None:
        """Forget NVML's state, remember why, and retry initialising it after ``retry_s``."""
        if reason != self._reason:
            log.info("GPU monitor: %s", reason)
        self._shutdown_nvml()
        self._reason = reason
        self._next_init = now + self.retry_s

    def _shutdown_nvml(self) -> None:
        """Drop the cached handles and balance a successful nvmlInit (NVML counts them)."""
        self._devices = None
        if not self._initialised:
            return
        self._initialised = False
        try:
            self._backend.nvmlShutdown()
        except Exception as exc:
            log.debug("nvmlShutdown failed: %s", exc)

    def _optional(self, function: str, *args: Any, **kwargs: Any) -> Any:
        """Call an NVML function; ``None`` where the card (or the library's version) doesn't support it."""
        fn = getattr(self._backend, function, None)
        if fn is None:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if _nvml_code(exc) in _FIELD_NOT_AVAILABLE:
                return None
            raise

    def _read_device(self, device: _Device) -> GpuReading:
        handle, call = device.handle, self._optional
        pstate = call("nvmlDeviceGetPerformanceState", handle)
        persistence = call("nvmlDeviceGetPersistenceMode", handle)
        power_mw = call("nvmlDeviceGetPowerUsage", handle)
        limit_mw = call("nvmlDeviceGetEnforcedPowerLimit", handle)
        display = call("nvmlDeviceGetDisplayActive", handle)
        memory = self._memory_info(handle)
        utilization = call("nvmlDeviceGetUtilizationRates", handle)
        mode = call("nvmlDeviceGetComputeMode", handle)
        return GpuReading(
            index=device.index, name=device.name,
            fan_percent=call("nvmlDeviceGetFanSpeed", handle),
            temperature_c=call("nvmlDeviceGetTemperature", handle, _TEMPERATURE_GPU),
            performance_state=None if pstate is None or pstate == _PSTATE_UNKNOWN else f"P{int(pstate)}",
            persistence_mode=None if persistence is None else bool(persistence),
            power_draw_w=None if power_mw is None else power_mw / 1000.0,
            power_limit_w=None if limit_mw is None else limit_mw / 1000.0,
            bus_id=device.bus_id,
            display_active=None if display is None else bool(display),
            memory_used_bytes=None if memory is None else int(memory.used),
            memory_total_bytes=None if memory is None else int(memory.total),
            utilization_gpu_percent=None if utilization is None else int(utilization.gpu),
            utilization_memory_percent=None if utilization is None else int(utilization.memory),
            ecc_uncorrected=call("nvmlDeviceGetTotalEccErrors", handle, _MEMORY_ERROR_TYPE_UNCORRECTED,
                                 _VOLATILE_ECC),
            compute_mode=None if mode is None else _COMPUTE_MODES.get(int(mode), f"mode {int(mode)}"),
            processes=self._processes(handle),
            clock_sm_mhz=_optional_int(call("nvmlDeviceGetClockInfo", handle, _CLOCK_SM)),
            clock_mem_mhz=_optional_int(call("nvmlDeviceGetClockInfo", handle, _CLOCK_MEM)),
        )

    def _memory_info(self, handle: Any) -> Any:
        """Memory as nvidia-smi counts it: the v2 query leaves out what the driver reserves for itself."""
        version = getattr(self._backend, "nvmlMemory_v2", None)
        if version is not None and self._memory_v2:
            try:
                return self._backend.nvmlDeviceGetMemoryInfo(handle, version=version)
            except Exception as exc:
                if _nvml_code(exc) not in _FIELD_NOT_AVAILABLE:
                    raise
                self._memory_v2 = False  # an older driver: use v1 from now on
        return self._optional("nvmlDeviceGetMemoryInfo", handle)

    def _processes(self, handle: Any) -> list[dict[str, Any]]:
        running = self._optional("nvmlDeviceGetComputeRunningProcesses", handle) or []
        names: dict[int, str | None] = {}
        processes = []
        for process in running:
            pid = int(process.pid)
            if pid not in names:
                names[pid] = self._process_names[pid] if pid in self._process_names else self._process_name(pid)
            used = getattr(process, "usedGpuMemory", None)  # None where the driver can't tell (Windows WDDM)
            processes.append({"pid": pid, "name": names[pid], "used_memory_bytes": None if used is None else int(used)})
        self._process_names.update(names)
        if len(self._process_names) > 256:  # pids come and go: keep the cache bounded
            self._process_names = names
        return processes

    def _process_name(self, pid: int) -> str | None:
        try:
            name = self._optional("nvmlSystemGetProcessName", pid)
            if name:
                return _text(name).rsplit("/", 1)[-1]
        except Exception:  # NVML may not see a process of another container
            pass
        if psutil is not None:
            try:
                return psutil.Process(pid).name()
            except Exception:
                pass
        return None


_sampler: GpuSampler | None = None
_sampler_lock = threading.Lock()


def get_sampler() -> GpuSampler:
    """The process-wide sampler, its thread started on the first call (and again if it was stopped)."""
    global _sampler
    with _sampler_lock:
        if _sampler is None:
            _sampler = GpuSampler()
        _sampler.start()
        return _sampler


# -- presentation (pure; shared by the CLI and the UI) -----------------------------------------------------------

NA = "n/a"

#: The nvidia-smi columns in table order, each with a plain-language explanation.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("GPU", "The GPU's number as NVML and nvidia-smi count (PCI bus order). CUDA and PyTorch number the fastest GPU "
            "first unless CUDA_DEVICE_ORDER=PCI_BUS_ID, and CUDA_VISIBLE_DEVICES renumbers them, so "
            "`torch.device(0)` (cuda:0) is not always GPU 0 here."),
    ("Name", "The product name of the card."),
    ("Fan", "The fan speed the driver asks for, as a percentage of the maximum. Data-centre cards have no fans of "
            "their own (the server's fans cool them), so it shows n/a."),
    ("Temp", "The GPU core temperature in °C. A card that gets too hot lowers its clocks (thermal throttling)."),
    ("Perf", "The performance state, P0 (maximum performance) down to P12 (minimum power). A busy card runs at "
             "P0-P2; an idle one drops to P8 or lower to save power, and needs a moment to speed up again."),
    ("Persistence-M", "Persistence mode: On keeps the driver loaded while no program uses the GPU, so the next "
                      "program starts faster. Linux only."),
    ("Pwr:Usage/Cap", "Electrical power the card draws now, and the cap it is held under. Near the cap the "
                           "card lowers its clocks to stay below it."),
    ("Bus-Id", "The PCI address of the card (domain:bus:device.function): which slot it sits in."),
    ("Disp.A", "Display active: whether a monitor is attached and showing a picture from this GPU."),
    ("Memory-Usage", "GPU memory held by all programs, out of the card's total. It says how full the card "
                            "is, not how busy. PyTorch keeps freed memory in its cache, and each program's CUDA "
                            "context takes a few hundred MiB, so this stays high after tensors are deleted."),
    ("GPU-Util", "The share of the last sample period (1/6 s to 1 s) in which at least one kernel was running. "
                 "It says how often the GPU was busy, not how many of its cores were: one tiny kernel running all "
                 "the time shows 100%. A loaded but idle model shows high memory and 0% here."),
    ("Mem-Util", "The share of the last sample period in which the memory controller was reading or writing GPU "
                 "memory: memory traffic, not how full memory is."),
    ("Uncorr. ECC", "Uncorrectable memory errors since the driver loaded. It should be 0; anything else means "
                    "data may have been corrupted. n/a where the card has no ECC or it is turned off (most "
                    "consumer cards)."),
    ("Compute M.", "Compute mode: Default lets several programs share the GPU, Exclusive-process allows one "
                   "program at a time, Prohibited allows none."),
)

#: The explanations of :data:`COLUMNS` in Chinese (the column names stay: they are what nvidia-smi prints).
COLUMNS_ZH: dict[str, str] = {
    "GPU": "GPU 的编号，与 NVML 和 nvidia-smi 的计数方式一致（按总线地址顺序）。PyTorch 默认把最快的 GPU 编为 0 号"
           "（除非设置 CUDA_DEVICE_ORDER=PCI_BUS_ID），CUDA_VISIBLE_DEVICES 还会重新编号，所以 PyTorch 的 0 号设备"
           "（`torch.device(0)`）不一定是这里的 0 号 GPU。",
    "Name": "显卡的产品名称。",
    "Fan": "驱动程序要求的风扇转速，占最大转速的百分比。数据中心显卡自身没有风扇（由服务器的风扇散热），所以显示 n/a。",
    "Temp": "GPU 核心温度（°C）。显卡过热时会降低频率（温度降频）。",
    "Perf": "性能状态，从 P0（最高性能）到 P12（最低功耗）。繁忙的显卡运行在 P0-P2；空闲时降到 P8 或更低以节省电能，"
            "再次提速需要一点时间。",
    "Persistence-M": "持久模式：On 表示即使没有程序使用 GPU，驱动程序也保持加载，下一个程序启动更快。仅限 Linux。",
    "Pwr:Usage/Cap": "显卡当前的耗电功率，以及它被限制的功率上限。接近上限时，显卡会降低频率以保持在上限以下。",
    "Bus-Id": "显卡的 PCI 地址（domain:bus:device.function）：它插在哪个插槽上。",
    "Disp.A": "显示是否激活：是否连接了显示器并由这块 GPU 输出画面。",
    "Memory-Usage": "所有程序占用的显存，以及显卡的显存总量。它表示显卡有多满，而不是有多忙。PyTorch 会把释放的显存留在"
                    "自己的缓存里，每个程序的 CUDA 上下文也要占几百 MiB，所以删除张量之后这个数仍然很高。",
    "GPU-Util": "在最近一个采样周期（1/6 秒到 1 秒）中，至少有一个内核在运行的时间占比。它表示 GPU 有多频繁地在忙，而不是"
                "有多少核心在忙：一个一直运行的小内核也会显示 100%。已载入但空闲的模型在这里显示高显存、0%。",
    "Mem-Util": "在最近一个采样周期中，显存控制器在读写显存的时间占比：表示显存的访问流量，而不是显存有多满。",
    "Uncorr. ECC": "自驱动加载以来无法纠正的显存错误数。应当为 0；否则说明数据可能已经损坏。显卡没有 ECC 或已关闭 ECC 时"
                   "（大多数消费级显卡）显示 n/a。",
    "Compute M.": "计算模式：Default 允许多个程序共享 GPU，Exclusive-process 一次只允许一个程序，Prohibited 不允许任何程序。",
}

PROCESS_COLUMNS: tuple[str, ...] = ("GPU", "PID", "Process", "GPU memory")
PROCESSES_HELP = ("The programs that hold a CUDA context on the GPU now, with the GPU memory each holds. Inside a "
                  "container NVML may list the host's process ids, or nothing at all.")
PROCESSES_HELP_ZH = "当前在 GPU 上持有 CUDA 上下文的程序，以及每个程序占用的显存。在容器中，NVML 可能列出宿主机的进程号，或者什么都不列出。"

#: Why there is no GPU reading (:attr:`Snapshot.reason`), in Chinese: the reason's English parts, longest first.
_REASONS_ZH: tuple[tuple[str, str], ...] = (
    (NO_GPU, "未检测到英伟达 GPU"),
    ("the nvidia-ml-py package (import pynvml) is not installed", "没有安装 nvidia-ml-py 包（import pynvml）"),
    (_INIT_REASONS[12], "找不到英伟达驱动程序库（nvidia-ml）"),
    (_INIT_REASONS[9], "英伟达驱动程序没有加载（这台机器没有英伟达 GPU，或其内核模块没有运行）"),
    (_INIT_REASONS[4], "当前用户没有权限访问 英伟达驱动程序"),
    (_INIT_REASONS[17], "操作系统阻止了对 英伟达驱动程序的访问"),
    (_INIT_REASONS[18], "英伟达驱动程序与其库的版本不一致（驱动更新后需要重启？）"),
    (_INIT_REASONS[28], "英伟达驱动程序没有找到可用的 GPU"),
    (_INIT_REASONS[15], "GPU 已从总线上掉线"),
    ("the NVIDIA driver is loaded but reports no GPUs", "英伟达驱动程序已加载，但报告没有 GPU"),
    ("NVML started but listing the GPUs failed", "NVML 已启动，但列出 GPU 失败"),
    ("NVML could not start", "NVML 无法启动"),
    ("NVIDIA GPU monitoring stopped", "英伟达 GPU 监控已停止"),
    ("no reason given", "未给出原因"),
)


def reason_zh(reason: str) -> str:
    """A :attr:`Snapshot.reason` in Chinese: its known phrases translated; NVML's own error text stays as it is."""
    text = reason
    for english, chinese in _REASONS_ZH:
        text = text.replace(english, chinese)
    text = re.sub(r"reading GPU (\d+) failed", r"读取 GPU \1 失败", text)
    text = re.sub(r"Retrying every ([\d.]+) s", r"每 \1 秒重试一次", text)
    return text.replace(": ", "：")


def _mib(num_bytes: int | None) -> str:
    return NA if num_bytes is None else f"{num_bytes / 2**20:.0f}MiB"


def _gib(num_bytes: int | None) -> str:
    return NA if num_bytes is None else f"{num_bytes / 2**30:.1f} GiB"


def _on_off(value: bool | None) -> str:
    return NA if value is None else ("On" if value else "Off")


def _unit(value: float | int | None, unit: str, digits: int = 0) -> str:
    return NA if value is None else f"{value:.{digits}f}{unit}"


def format_gpu_row(gpu: GpuReading) -> list[str]:
    """The reading as the strings of :data:`COLUMNS`, "n/a" for what the card doesn't report."""
    power = (NA if gpu.power_draw_w is None and gpu.power_limit_w is None
             else f"{_unit(gpu.power_draw_w, 'W')} / {_unit(gpu.power_limit_w, 'W')}")
    if gpu.memory_used_bytes is None or gpu.memory_total_bytes is None:
        memory = NA
    else:
        share = 100.0 * gpu.memory_used_bytes / gpu.memory_total_bytes if gpu.memory_total_bytes else 0.0
        memory = f"{_mib(gpu.memory_used_bytes)} / {_mib(gpu.memory_total_bytes)} ({share:.0f}%)"
    return [str(gpu.index), gpu.name, _unit(gpu.fan_percent, "%"), _unit(gpu.temperature_c, "°C"),
            gpu.performance_state or NA, _on_off(gpu.persistence_mode), power, gpu.bus_id or NA,
            _on_off(gpu.display_active), memory, _unit(gpu.utilization_gpu_percent, "%"),
            _unit(gpu.utilization_memory_percent, "%"), NA if gpu.ecc_uncorrected is None else str(gpu.ecc_uncorrected),
            gpu.compute_mode or NA]


def format_process_rows(snapshot: Snapshot) -> list[list[str]]:
    """One row per process per GPU, as :data:`PROCESS_COLUMNS`."""
    return [[str(gpu.index), str(process["pid"]), process["name"] or NA, _mib(process["used_memory_bytes"])]
            for gpu in snapshot.gpus for process in gpu.processes]


def format_cpu(cpu: CpuReading, *, zh: bool = False) -> str:
    """One line: CPU %, RAM used / total, this process's memory (``zh``: in Chinese)."""
    ram = (NA if cpu.ram_used_bytes is None or cpu.ram_total_bytes is None
           else f"{_gib(cpu.ram_used_bytes)} / {_gib(cpu.ram_total_bytes)} ({_unit(cpu.ram_percent, '%')})")
    if zh:
        cores = f"（{cpu.cpu_count} 个核心合计）" if cpu.cpu_count else ""
        ram = "无" if ram == NA else ram
        cpu_percent = "无" if cpu.cpu_percent is None else _unit(cpu.cpu_percent, '%', 1)
        rss = "无" if cpu.process_rss_bytes is None else _gib(cpu.process_rss_bytes)
        return f"CPU {cpu_percent}{cores} · 内存（RAM）{ram} · 本进程 {rss}"
    cores = f" across {cpu.cpu_count} cores" if cpu.cpu_count else ""
    return f"CPU {_unit(cpu.cpu_percent, '%', 1)}{cores} · RAM {ram} · this process {_gib(cpu.process_rss_bytes)}"


def format_status(snapshot: Snapshot, *, zh: bool = False) -> str:
    """A one-line status: the GPUs seen, or why there are none (``zh``: in Chinese)."""
    if snapshot.available:
        names = sorted({gpu.name for gpu in snapshot.gpus})
        count = len(snapshot.gpus)
        if zh:
            return f"{count} 块英伟达 GPU：{'、'.join(names)}"
        return f"{count} NVIDIA GPU{'s' if count != 1 else ''}: {', '.join(names)}"
    reason = snapshot.reason or f"{NO_GPU}: no reason given"
    return reason_zh(reason) if zh else reason
