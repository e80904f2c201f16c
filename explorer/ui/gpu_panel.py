"""The GPU panel: live utilisation and memory charts and nvidia-smi's table, or CPU and RAM without a GPU.

The panel's timer only reads the process-wide sampler's cached snapshots (:func:`explorer.gpu.get_sampler`);
it never calls NVML. The figures and tables made from one snapshot are cached too, so every open browser gets
the same objects and ten browsers cost about what one does.
"""
from __future__ import annotations

import threading
import time
from typing import Any

import gradio as gr

from ..charts.gpu import memory_figure, utilization_figure
from ..gpu import COLUMNS, COLUMNS_ZH, PROCESS_COLUMNS, PROCESSES_HELP, PROCESSES_HELP_ZH, RETRY_S, Snapshot, \
    format_cpu, format_gpu_row, format_process_rows, format_status, get_sampler
from .i18n import tr, wants_chinese

REFRESH_S = 1.0
#: The label of the button that opens the GPU sidebar (the sidebar's own toggle is an unlabelled chevron).
OPEN_LABEL = "GPU monitor"
#: Opening runs in the browser only: it clicks the sidebar's toggle, so the sidebar's expand/collapse events (which
#: start and stop the panel's timer) fire exactly as they do for the chevron.
_TOGGLE_SIDEBAR_JS = "() => { document.querySelector('.sidebar .toggle-button')?.click(); }"
_STALE_S = 5.0  # readings older than this mean the sampler thread is stuck or gone: say so

_cache_lock = threading.Lock()
_cache: dict[bool, tuple[float, tuple[Any, ...]]] = {}  # Chinese or not -> (snapshot time, rendered outputs)

COLUMN_HELP_MARKDOWN = "\n".join(
    [f"- **{name}**: {text}" for name, text in COLUMNS]
    + [f"- **Processes**: {PROCESSES_HELP}",
       "",
       "**Memory used and GPU utilisation measure different things.** Memory says how much the card holds; "
       "utilisation says how often its cores were busy. A model that is loaded but waiting shows a lot of memory "
       "and 0% utilisation; a training loop starved by slow data loading shows utilisation that keeps dropping "
       "while memory stays flat.",
       "",
       f"Without an NVIDIA GPU (or when NVML fails) the panel says why and shows CPU and RAM instead; it tries "
       f"to reach the GPU again every {RETRY_S:g} seconds."])
#: The glossary in Chinese: nvidia-smi's column names stay as nvidia-smi prints them.
COLUMN_HELP_MARKDOWN_ZH = "\n".join(
    [f"- **{name}**: {COLUMNS_ZH[name]}" for name, _ in COLUMNS]  # the names as nvidia-smi prints them
    + [f"- **Processes**: （进程）{PROCESSES_HELP_ZH}",
       "",
       "**已用显存和 GPU 利用率衡量的是不同的东西。** 显存表示显卡装了多少数据；利用率表示它的核心有多频繁地在忙。"
       "已载入但在等待的模型显示大量显存和 0% 利用率；数据加载太慢、喂不饱的训练循环则显示不断下降的利用率，而显存保持不变。",
       "",
       f"没有英伟达 GPU（或 NVML 出错）时，面板会说明原因，并改为显示 CPU 和内存；它每 {RETRY_S:g} 秒尝试重新连接一次 GPU。"])


def chinese(request: gr.Request | None) -> bool:
    """Whether the browser that sent ``request`` asks for Chinese (server-computed text follows it)."""
    try:
        return wants_chinese(request.headers.get("accept-language")) if request is not None else False
    except AttributeError:
        return False


def status_markdown(snapshot: Snapshot, *, now: float | None = None, zh: bool = False) -> str:
    """The status line: the GPUs, or why there are none; then CPU and RAM; a warning if readings are stale.
    ``zh``: in Chinese."""
    status = format_status(snapshot, zh=zh)
    if snapshot.available:
        head = f"**{status}**"
    elif zh:
        title, _, detail = status.partition("：")
        detail = detail if not detail or detail.endswith(("。", ".")) else detail + "。"
        head = f"**{title}**：{detail}改为显示 CPU 和内存。" if detail else f"**{status}**"
    else:
        title, _, detail = status.partition(": ")
        detail = detail if not detail or detail.endswith(".") else detail + "."
        head = f"**{title}**: {detail} Showing CPU and RAM instead." if detail else f"**{status}**"
    lines = [head, "", format_cpu(snapshot.cpu, zh=zh)]
    age = (time.time() if now is None else now) - snapshot.time
    if age > _STALE_S:
        lines += ["", f"⚠️ 这些读数已是 {age:.0f} 秒前的：GPU 监控已停止更新。" if zh else
                  f"⚠️ These readings are {age:.0f} s old: the GPU monitor has stopped updating."]
    return "\n".join(lines)


def render(snapshot: Snapshot, history: list[Snapshot], zh: bool = False) -> tuple[Any, ...]:
    """Outputs for (status, utilisation chart, memory chart, GPU table, process table) from one snapshot."""
    gpu_rows = [format_gpu_row(gpu) for gpu in snapshot.gpus]
    process_rows = format_process_rows(snapshot)
    if zh:
        label = "进程" if process_rows else "进程（没有列出）"
    else:
        label = "Processes" if process_rows else "Processes (none listed)"
    return (
        status_markdown(snapshot, zh=zh),
        utilization_figure(history, zh=zh),
        memory_figure(history, zh=zh),
        gr.Dataframe(value=gpu_rows, visible=snapshot.available),
        gr.Dataframe(value=process_rows, visible=snapshot.available, label=label),
    )


def refresh(request: gr.Request = None) -> tuple[Any, ...]:
    """The timer's handler: read the sampler's cached snapshot and history; render once per new snapshot (and
    language: the browser's Accept-Language picks English or Chinese)."""
    global _cache
    zh = chinese(request)
    sampler = get_sampler()
    snapshot = sampler.latest()
    with _cache_lock:
        if not isinstance(_cache, dict):  # tests reset it to None
            _cache = {}
        cached = _cache.get(zh)
        if cached is None or cached[0] != snapshot.time:
            cached = _cache[zh] = (snapshot.time, render(snapshot, sampler.history(), zh) if zh
                                   else render(snapshot, sampler.history()))
        outputs = cached[1]
    # The status's staleness warning depends on the clock, not only on the snapshot.
    return (status_markdown(snapshot, zh=zh), *outputs[1:])


def build_gpu_opener() -> gr.Button:
    """A labelled button for the page header that opens (or closes) the GPU sidebar; no server round trip."""
    button = gr.Button(tr(OPEN_LABEL), elem_id="gpu-open", size="sm", variant="secondary", scale=0, min_width=0)
    button.click(None, None, None, js=_TOGGLE_SIDEBAR_JS, api_visibility="private")
    return button


def build_gpu_panel(*, active: bool = True) -> gr.Timer:
    """Create the GPU panel inside the caller's ``gr.Blocks`` (a tab or accordion the app makes).

    Returns its timer, so a container that hides the panel can pause it (``gr.Timer(active=False)``).
    """
    status = gr.Markdown(tr("Reading the GPU monitor...", zh="正在读取 GPU 监控……"))
    with gr.Row():
        utilization_plot = gr.Plot(label=tr("Utilisation"), show_label=False, min_width=320)
        memory_plot = gr.Plot(label=tr("Memory"), show_label=False, min_width=320)
    gpu_table = gr.Dataframe(headers=[name for name, _ in COLUMNS], datatype="str", interactive=False, wrap=False,
                             label=tr("GPUs (as nvidia-smi shows them)"), visible=False)
    process_table = gr.Dataframe(headers=list(PROCESS_COLUMNS), datatype="str", interactive=False,
                                 label=tr("Processes"), visible=False)
    with gr.Accordion(tr("What do these columns mean?"), open=False):
        gr.Markdown(tr(COLUMN_HELP_MARKDOWN, zh=COLUMN_HELP_MARKDOWN_ZH))
    timer = gr.Timer(REFRESH_S, active=active)
    outputs = [status, utilization_plot, memory_plot, gpu_table, process_table]
    # On page load (triggers=None, no inputs) and every second after; cheap reads, so no concurrency limit.
    gr.on(triggers=None, fn=refresh, inputs=None, outputs=outputs, concurrency_limit=None, show_progress="hidden",
          api_visibility="private")
    timer.tick(refresh, inputs=None, outputs=outputs, concurrency_limit=None, show_progress="hidden",
               api_name="gpu_readings")
    return timer
