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
from ..gpu import COLUMNS, PROCESS_COLUMNS, PROCESSES_HELP, RETRY_S, Snapshot, format_cpu, format_gpu_row, \
    format_process_rows, format_status, get_sampler
from .i18n import tr

REFRESH_S = 1.0
#: The label of the button that opens the GPU sidebar (the sidebar's own toggle is an unlabelled chevron).
OPEN_LABEL = "GPU monitor"
#: Opening runs in the browser only: it clicks the sidebar's toggle, so the sidebar's expand/collapse events (which
#: start and stop the panel's timer) fire exactly as they do for the chevron.
_TOGGLE_SIDEBAR_JS = "() => { document.querySelector('.sidebar .toggle-button')?.click(); }"
_STALE_S = 5.0  # readings older than this mean the sampler thread is stuck or gone: say so

_cache_lock = threading.Lock()
_cache: tuple[float, tuple[Any, ...]] | None = None  # (snapshot time, rendered outputs)

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


def status_markdown(snapshot: Snapshot, *, now: float | None = None) -> str:
    """The status line: the GPUs, or why there are none; then CPU and RAM; a warning if readings are stale."""
    status = format_status(snapshot)
    if snapshot.available:
        head = f"**{status}**"
    else:
        title, _, detail = status.partition(": ")
        detail = detail if not detail or detail.endswith(".") else detail + "."
        head = f"**{title}**: {detail} Showing CPU and RAM instead." if detail else f"**{status}**"
    lines = [head, "", format_cpu(snapshot.cpu)]
    age = (time.time() if now is None else now) - snapshot.time
    if age > _STALE_S:
        lines += ["", f"⚠️ These readings are {age:.0f} s old: the GPU monitor has stopped updating."]
    return "\n".join(lines)


def render(snapshot: Snapshot, history: list[Snapshot]) -> tuple[Any, ...]:
    """Outputs for (status, utilisation chart, memory chart, GPU table, process table) from one snapshot."""
    gpu_rows = [format_gpu_row(gpu) for gpu in snapshot.gpus]
    process_rows = format_process_rows(snapshot)
    return (
        status_markdown(snapshot),
        utilization_figure(history),
        memory_figure(history),
        gr.Dataframe(value=gpu_rows, visible=snapshot.available),
        gr.Dataframe(value=process_rows, visible=snapshot.available,
                     label="Processes" if process_rows else "Processes (none listed)"),
    )


def refresh() -> tuple[Any, ...]:
    """The timer's handler: read the sampler's cached snapshot and history; render once per new snapshot."""
    global _cache
    sampler = get_sampler()
    snapshot = sampler.latest()
    with _cache_lock:
        if _cache is None or _cache[0] != snapshot.time:
            _cache = (snapshot.time, render(snapshot, sampler.history()))
        outputs = _cache[1]
    # The status's staleness warning depends on the clock, not only on the snapshot.
    return (status_markdown(snapshot), *outputs[1:])


def build_gpu_opener() -> gr.Button:
    """A labelled button for the page header that opens (or closes) the GPU sidebar; no server round trip."""
    button = gr.Button(tr(OPEN_LABEL), elem_id="gpu-open", size="sm", variant="secondary", scale=0, min_width=0)
    button.click(None, None, None, js=_TOGGLE_SIDEBAR_JS, api_visibility="private")
    return button


def build_gpu_panel(*, active: bool = True) -> gr.Timer:
    """Create the GPU panel inside the caller's ``gr.Blocks`` (a tab or accordion the app makes).

    Returns its timer, so a container that hides the panel can pause it (``gr.Timer(active=False)``).
    """
    status = gr.Markdown("Reading the GPU monitor...")
    with gr.Row():
        utilization_plot = gr.Plot(label=tr("Utilisation"), show_label=False, min_width=320)
        memory_plot = gr.Plot(label=tr("Memory"), show_label=False, min_width=320)
    gpu_table = gr.Dataframe(headers=[name for name, _ in COLUMNS], datatype="str", interactive=False, wrap=False,
                             label=tr("GPUs (as nvidia-smi shows them)"), visible=False)
    process_table = gr.Dataframe(headers=list(PROCESS_COLUMNS), datatype="str", interactive=False,
                                 label=tr("Processes"), visible=False)
    with gr.Accordion(tr("What do these columns mean?"), open=False):
        gr.Markdown(COLUMN_HELP_MARKDOWN)
    timer = gr.Timer(REFRESH_S, active=active)
    outputs = [status, utilization_plot, memory_plot, gpu_table, process_table]
    # On page load (triggers=None, no inputs) and every second after; cheap reads, so no concurrency limit.
    gr.on(triggers=None, fn=refresh, inputs=None, outputs=outputs, concurrency_limit=None, show_progress="hidden",
          api_visibility="private")
    timer.tick(refresh, inputs=None, outputs=outputs, concurrency_limit=None, show_progress="hidden",
               api_name="gpu_readings")
    return timer
