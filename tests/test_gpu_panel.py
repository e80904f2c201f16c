"""The GPU charts (pure) and the GPU panel: built in a Blocks, its timer reading only the cached snapshots."""
from __future__ import annotations

import json
from typing import Any

import gradio as gr
import plotly.graph_objects as go
import pytest

from explorer.charts.gpu import gpu_trace_series, memory_figure, utilization_figure
from explorer.gpu import CpuReading, GpuReading, Snapshot, get_sampler
from explorer.ui import gpu_panel

GIB = 2**30
CPU = CpuReading(cpu_percent=25.0, ram_used_bytes=4 * GIB, ram_total_bytes=16 * GIB, ram_percent=25.0,
                 process_rss_bytes=GIB // 2, cpu_count=8)


def gpu(index: int = 0, util: int = 50, used: int = 10 * GIB) -> GpuReading:
    return GpuReading(index=index, name="NVIDIA Fake 80GB", fan_percent=None, temperature_c=40, performance_state="P0",
                      persistence_mode=True, power_draw_w=100.0, power_limit_w=700.0, bus_id="00000000:3B:00.0",
                      display_active=False, memory_used_bytes=used, memory_total_bytes=80 * GIB,
                      utilization_gpu_percent=util, utilization_memory_percent=util // 2, ecc_uncorrected=0,
                      compute_mode="Default", processes=[{"pid": 7, "name": "python3", "used_memory_bytes": GIB}])


def with_gpus(t: float, *gpus: GpuReading) -> Snapshot:
    return Snapshot(time=t, available=True, reason=None, gpus=list(gpus), cpu=CPU)


def without_gpu(t: float, reason: str = "No NVIDIA GPU detected: the NVIDIA driver is not loaded") -> Snapshot:
    return Snapshot(time=t, available=False, reason=reason, gpus=[], cpu=CPU)


def ys(fig: go.Figure, name: str) -> list[Any]:
    return list(next(trace for trace in fig.data if trace.name == name).y)


# -- charts ----------------------------------------------------------------------------------------------------------
def test_gpu_charts_plot_every_gpu_against_seconds_ago() -> None:
    history = [with_gpus(100.0 + t, gpu(0, util=t * 10), gpu(1, util=5)) for t in range(5)]
    utilization, memory = utilization_figure(history), memory_figure(history)
    assert [trace.name for trace in utilization.data] == ["GPU 0 busy", "GPU 0 memory traffic", "GPU 1 busy",
                                                          "GPU 1 memory traffic"]
    assert list(utilization.data[0].x) == [-4.0, -3.0, -2.0, -1.0, 0.0]
    assert ys(utilization, "GPU 0 busy") == [0, 10, 20, 30, 40]
    assert ys(memory, "GPU 1 used") == [10.0] * 5
    assert memory.layout.yaxis.range == (0, 84.0) and "of 80 GiB" in memory.layout.title.text
    for fig in (utilization, memory):
        assert fig.layout.template.layout.to_plotly_json() == {}  # template "none": a lean payload


def test_gpu_charts_leave_gaps_where_the_gpu_was_missing() -> None:
    history = [with_gpus(0.0, gpu()), without_gpu(1.0), with_gpus(2.0, gpu())]
    assert ys(utilization_figure(history), "GPU 0 busy") == [50, None, 50]
    assert ys(memory_figure(history), "GPU 0 used") == [10.0, None, 10.0]


def test_charts_fall_back_to_cpu_and_ram() -> None:
    history = [with_gpus(0.0, gpu()), without_gpu(1.0), without_gpu(2.0)]
    utilization, memory = utilization_figure(history), memory_figure(history)
    assert ys(utilization, "CPU (all cores)") == [25.0] * 3 and "no GPU" in utilization.layout.title.text
    assert ys(memory, "RAM used (machine)") == [4.0] * 3 and ys(memory, "this app") == [0.5] * 3
    assert memory.layout.yaxis.range == (0, 16.8)


def test_charts_of_an_empty_history() -> None:
    for fig in (utilization_figure([]), memory_figure([])):
        assert not fig.data and "waiting" in fig.layout.annotations[0].text


def test_five_minutes_of_one_gpu_is_a_small_payload() -> None:
    history = [with_gpus(float(t), gpu(util=t % 100)) for t in range(301)]
    assert len(utilization_figure(history).to_json()) < 20_000
    assert len(memory_figure(history).to_json()) < 20_000


def test_trace_series_for_the_training_overlay() -> None:
    series = gpu_trace_series([with_gpus(10.0, gpu(util=30)), without_gpu(11.0), with_gpus(12.0, gpu(util=60))])
    assert series["source"] == "gpu" and series["time"] == [10.0, 11.0, 12.0]
    assert series["utilization"] == [30, None, 60] and series["memory_used_bytes"] == [10 * GIB, None, 10 * GIB]
    assert series["memory_total_bytes"] == 80 * GIB and "GPU 0" in series["utilization_label"]
    cpu = gpu_trace_series([without_gpu(1.0), without_gpu(2.0)])
    assert cpu["source"] == "cpu" and cpu["utilization"] == [25.0, 25.0] and cpu["memory_used_bytes"] == [4 * GIB] * 2
    assert gpu_trace_series([])["time"] == []


# -- the panel -------------------------------------------------------------------------------------------------------
class StubSampler:
    """Serves fixed snapshots; sampling from a UI handler would be a bug."""

    def __init__(self, history: list[Snapshot]) -> None:
        self._history = history

    def latest(self) -> Snapshot:
        return self._history[-1]

    def history(self, seconds: float | None = None) -> list[Snapshot]:
        return list(self._history)

    def sample_once(self) -> Snapshot:
        raise AssertionError("the UI must not sample NVML")


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> StubSampler:
    sampler = StubSampler([with_gpus(1.0, gpu()), with_gpus(2.0, gpu(util=70))])
    monkeypatch.setattr(gpu_panel, "get_sampler", lambda: sampler)
    monkeypatch.setattr(gpu_panel, "_cache", None)
    return sampler


def test_refresh_renders_once_per_snapshot(stub: StubSampler, monkeypatch: pytest.MonkeyPatch) -> None:
    renders = []
    real_render = gpu_panel.render
    monkeypatch.setattr(gpu_panel, "render", lambda *args: renders.append(args) or real_render(*args))
    first = gpu_panel.refresh()
    for _ in range(9):  # nine more browsers on the same tick
        again = gpu_panel.refresh()
        assert again[1] is first[1] and again[3] is first[3]
    assert len(renders) == 1
    stub._history.append(with_gpus(3.0, gpu(util=90)))
    gpu_panel.refresh()
    assert len(renders) == 2


def test_refresh_outputs_with_gpus(stub: StubSampler) -> None:
    status, utilization, memory, table, processes = gpu_panel.refresh()
    assert status.startswith("**1 NVIDIA GPU: NVIDIA Fake 80GB**") and "CPU 25.0% across 8 cores" in status
    assert "old: the GPU monitor has stopped updating" in status  # snapshots at t=2 s of 1970 are stale
    assert isinstance(utilization, go.Figure) and isinstance(memory, go.Figure)
    assert table.visible and table.value["data"][0][:2] == ["0", "NVIDIA Fake 80GB"]
    assert processes.visible and processes.value["data"] == [["0", "7", "python3", "1024MiB"]]


def test_status_without_gpu() -> None:
    snapshot = without_gpu(100.0)
    text = gpu_panel.status_markdown(snapshot, now=101.0)
    assert text.startswith("**No NVIDIA GPU detected**: the NVIDIA driver is not loaded. Showing CPU and RAM instead.")
    assert "old" not in text
    table = gpu_panel.render(snapshot, [snapshot])[3]
    assert table.visible is False


def test_build_gpu_panel_wires_a_cheap_timer() -> None:
    with gr.Blocks() as demo:
        with gr.Tab("GPU"):
            gpu_panel.build_gpu_panel()
    timers = [block for block in demo.blocks.values() if isinstance(block, gr.Timer)]
    assert len(timers) == 1 and timers[0].value == 1.0
    handlers = [fn for fn in demo.fns.values() if fn.fn is gpu_panel.refresh]
    assert len(handlers) == 2  # page load and timer tick
    for fn in handlers:
        assert fn.concurrency_limit is None and fn.show_progress == "hidden" and not fn.inputs
        assert len(fn.outputs) == 5
    assert {fn.api_name for fn in handlers} >= {"gpu_readings"}
    config = json.dumps(demo.get_config_file(), default=str)  # labels are gr.I18n keys
    from explorer.ui.i18n import tr

    assert tr("What do these columns mean?").key in config
    assert tr(gpu_panel.COLUMN_HELP_MARKDOWN).key in config and "P12 (minimum power)" in gpu_panel.COLUMN_HELP_MARKDOWN
    from explorer.ui.i18n import ZH

    assert ZH[gpu_panel.COLUMN_HELP_MARKDOWN] == gpu_panel.COLUMN_HELP_MARKDOWN_ZH


def _has_english(text: str) -> list[str]:
    """English words in ``text`` other than identifiers (nvidia-smi's column names, units, GPU/CPU/RAM)."""
    from tests.chinese_text import english_lines

    return english_lines(text)


def _numbers(text: str) -> list[str]:
    import re

    return re.findall(r"\d+(?:[.,]\d+)*", text)


@pytest.mark.parametrize("snapshot", [
    Snapshot(time=100.0, available=False, reason="No NVIDIA GPU detected: the NVIDIA driver is not loaded (no NVIDIA "
             "GPU in this machine, or its kernel module is not running)", gpus=[],
             cpu=CpuReading(37.5, 3 * 2**30, 8 * 2**30, 37.5, 600 * 2**20, 2)),
    Snapshot(time=100.0, available=False, reason="NVIDIA GPU monitoring stopped: reading GPU 0 failed: lost (NVML "
             "error 15). Retrying every 30 s", gpus=[], cpu=CpuReading(None, None, None, None, None, None)),
])
def test_chinese_status_has_the_same_numbers_and_no_english(snapshot: Snapshot) -> None:
    english = gpu_panel.status_markdown(snapshot, now=120.0)
    chinese = gpu_panel.status_markdown(snapshot, now=120.0, zh=True)
    assert "seconds ago" not in chinese and "across" not in chinese and "this process" not in chinese
    assert not [line for line in _has_english(chinese) if "NVML error" not in line], chinese
    assert _numbers(chinese) == _numbers(english)
    assert "GPU" in chinese and "CPU" in chinese


def test_chinese_charts_and_glossary() -> None:
    snapshot = Snapshot(time=100.0, available=False, reason="No NVIDIA GPU detected", gpus=[],
                        cpu=CpuReading(37.5, 3 * 2**30, 8 * 2**30, 37.5, 600 * 2**20, 2))
    for figure in (utilization_figure([snapshot], zh=True), memory_figure([snapshot], zh=True),
                   utilization_figure([], zh=True)):
        texts = [figure.layout.title.text, figure.layout.xaxis.title.text, *(trace.name for trace in figure.data)]
        assert not _has_english("\n".join(text for text in texts if text)), texts
    lines = [line for line in _has_english(gpu_panel.COLUMN_HELP_MARKDOWN_ZH)]
    # Only nvidia-smi's own words remain (column names and the values it prints).
    assert all(line.startswith("- **") for line in lines), lines
    assert gpu_trace_series([snapshot], zh=True)["utilization_label"] == "CPU 利用率（%）"


def test_panel_serves_readings_to_a_client() -> None:
    """The real app path: a server, the real sampler (no GPU here: the CPU fallback), a gradio_client call."""
    from gradio_client import Client

    with gr.Blocks() as demo:
        gpu_panel.build_gpu_panel()
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False, analytics_enabled=False)
        status, utilization, memory, table, processes = client.predict(api_name="/gpu_readings")
        assert "NVIDIA GPU" in status and "CPU " in status
        assert json.loads(utilization["plot"])["data"] is not None
    finally:
        demo.close()
        get_sampler().stop()  # the handler started the process-wide sampler; leave no thread behind
