"""The Runs tab: every run this browser session finished, side by side (issue #13).

A table lists the runs (network, size, data, recipe, time, speed, accuracy, device); picking two or more overlays
their test-accuracy curves by epoch and by wall time, with a table of what differs. Runs download as JSON (one) or
a zip (several) and load back, so a run trained before class can be shown in it; a checkpoint (``.pt``) that
training wrote loads as its run too (with its curves, when the engine saved them). One button trains d2l's
comparison: the chosen presets one after another on the same data with the same recipe, through the Train tab's
own queued handler (:func:`explorer.ui.train_panel.queued_training`: its limits, queue and folders).

The runs live in the session's ``gr.State`` (records only, no weights); finished runs reach it through
:data:`explorer.runs.FINISHED`, which the Train tab fills.
"""
from __future__ import annotations

import html
from typing import Any, AsyncIterator, Sequence

import gradio as gr
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .. import runs
from ..presets import load_preset
from ..runs import RunRecord
from ..specs import SpecError
from ..training.config import DATASET_NAMES
from ..training.recipes import short_recipe_info
from . import train_panel
from .i18n import tr

#: d2l's four families in their small variants (each trains on ``shapes`` in minutes on a CPU, seconds on a GPU).
D2L_PRESETS = ("d2l_alexnet", "d2l_vgg11_small", "d2l_nin", "d2l_googlenet")
COMPARISON_CHOICES = (*D2L_PRESETS, "d2l_resnet18")
#: One learning rate for every network: Adam at the short recipe's 1e-3 makes d2l's AlexNet (no batch norm,
#: 4096-wide dropout layers) diverge on ``shapes`` within a few steps; 1e-4 trains all four.
COMPARISON_LR = 1e-4
#: What the upload takes: run files, archives of them, and checkpoints (explorer.runs.read_run reads each).
UPLOAD_TYPES = (".json", ".zip", *runs.CHECKPOINT_SUFFIXES)
#: Runs kept per session (the oldest are dropped).
MAX_RUNS = 40
HEADERS = ["#", *runs.TABLE_HEADERS]
INTRO = " ".join("""**Every run this browser session finished**, side by side. Pick two or more to overlay their test
accuracy by epoch and by wall time and to see what differs. Download runs to show them again later (a run file
holds the curves and settings, not the weights: the checkpoint goes to the *Inspect* tab).""".split())  # one line: the key of its translation


# -- pure helpers -------------------------------------------------------------------------------------------------


def run_choices(records: Sequence[RunRecord]) -> list[tuple[str, int]]:
    return [(f"{number}. {record.label} · {record.dataset} · {record.test_acc:.3f}", number - 1)
            for number, record in enumerate(records, 1)]


def table_value(records: Sequence[RunRecord]) -> list[list[Any]]:
    return [[number, *row] for number, row in enumerate(runs.runs_table(records), 1)]


def chosen(records: Sequence[RunRecord], picked: Sequence[Any] | None) -> list[RunRecord]:
    indices = sorted({int(index) for index in picked or () if isinstance(index, (int, float))
                      and 0 <= int(index) < len(records)})
    return [records[index] for index in indices]


def curves_figure(records: Sequence[RunRecord]) -> go.Figure:
    """Test accuracy by epoch (left) and by wall time (right), one colour per run."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("by epoch", "by wall time"),
                           horizontal_spacing=0.1)
    for number, record in enumerate(records):
        curves = record.curves
        colour = _COLOURS[number % len(_COLOURS)]
        name = f"{record.label} ({record.dataset})"
        common = dict(mode="lines+markers", line=dict(color=colour), legendgroup=str(number), name=name)
        figure.add_trace(go.Scatter(x=curves.get("epoch", []), y=curves.get("test_acc", []), **common), 1, 1)
        figure.add_trace(go.Scatter(x=curves.get("elapsed_s", []), y=curves.get("test_acc", []), showlegend=False,
                                    **common), 1, 2)
    figure.update_xaxes(title_text="epoch", row=1, col=1, dtick=1)
    figure.update_xaxes(title_text="seconds since the run started", row=1, col=2)
    figure.update_yaxes(title_text="test accuracy", rangemode="tozero", row=1, col=1)
    figure.update_yaxes(rangemode="tozero", row=1, col=2)
    figure.update_layout(template="none", height=360, margin=dict(l=60, r=20, t=40, b=50),
                         legend=dict(orientation="h", y=-0.25))
    return figure


_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


def differences_markdown(records: Sequence[RunRecord]) -> str:
    if len(records) < 2:
        return "Pick two or more runs to see what differs."
    rows = runs.differences(records)
    header = "| | " + " | ".join(f"**{number}. {html.escape(record.label)}**"
                                   for number, record in enumerate(records, 1)) + " |"
    lines = [header, "|---" * (len(records) + 1) + "|"]
    lines += ["| " + " | ".join(html.escape(str(cell)) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def view(records: Sequence[RunRecord], picked: Sequence[Any] | None) -> dict[str, Any]:
    """The table, the choices (keeping the picked ones), the curves and the differences."""
    valid = [index for index in (picked or []) if isinstance(index, int) and 0 <= index < len(records)]
    if not valid and records:
        valid = list(range(max(0, len(records) - 2), len(records)))  # the last two
    selection = chosen(records, valid)
    return {"table": table_value(records), "pick": gr.CheckboxGroup(choices=run_choices(records), value=valid),
            "curves": curves_figure(selection), "differences": differences_markdown(selection),
            "count": f"{len(records)} run{'s' if len(records) != 1 else ''} in this session." if records else
            "No runs yet: train one in the Train tab, train d2l's comparison below, or load a run file or a "
            "checkpoint (.pt)."}


def add_runs(records: Sequence[RunRecord], new: Sequence[RunRecord]) -> list[RunRecord]:
    """``records`` with ``new`` appended (a run already listed is not added twice); at most MAX_RUNS."""
    merged = list(records)
    for record in new:
        if record not in merged:  # equal in every field: the same run loaded again
            merged.append(record)
    return merged[-MAX_RUNS:]


def comparison_settings(preset: str, dataset: str, epochs: Any, train_subset: Any, lr: Any = None,
                        device: str = "auto") -> tuple[Any, ...]:
    """The Train tab's widget values for one network of the comparison: its short-run recipe (Adam, batch 128;
    the input size the recipe picks for the network and the device) with the same epochs, data and learning
    rate (default :data:`COMPARISON_LR`)."""
    spec = load_preset(preset)
    config = short_recipe_info(spec, dataset=dataset, device=device).config
    return (spec, "short", dataset, epochs, config.batch_size, COMPARISON_LR if lr is None else lr,
            config.optimizer, config.precision, device, 0, train_subset or 0)


# -- the tab -------------------------------------------------------------------------------------------------------


def build_runs_panel(train_event: Any | None = None) -> dict[str, Any]:
    """Build the Runs tab inside the caller's Blocks; ``train_event`` is the Train tab's Start event."""
    gr.Markdown(tr(INTRO))
    c: dict[str, Any] = {}
    c["runs"] = gr.State([])
    c["count"] = gr.Markdown("No runs yet.", elem_id="runs-count")
    c["table"] = gr.Dataframe(headers=HEADERS, value=[], interactive=False, wrap=True, elem_id="runs-table",
                              label=tr("Runs"))
    c["pick"] = gr.CheckboxGroup(choices=[], label=tr("Runs to compare"), elem_id="runs-pick")
    c["curves"] = gr.Plot(label=tr("Test accuracy"), elem_id="runs-curves")
    c["differences"] = gr.Markdown(elem_id="runs-differences")
    with gr.Row():
        download = gr.Button(tr("Download the picked runs"), size="sm", elem_id="runs-download")
        c["file"] = gr.File(label=tr("Run file"), interactive=False, height=80, elem_id="runs-file")
        upload = gr.File(label=tr("Load runs (.json or .zip)"), file_types=list(UPLOAD_TYPES), type="filepath",
                         height=80, elem_id="runs-upload")
    c["message"] = gr.Markdown(elem_id="runs-message")
    with gr.Accordion(tr("d2l's comparison: train the four families one after another"), open=True):
        gr.Markdown(tr("Each network gets the same recipe (Adam, batch 128, one learning rate: 0.001 makes AlexNet "
                       "diverge) on the same data for the same epochs, one after another in the training queue; "
                       "then they appear here side by side."))
        with gr.Row():
            presets = gr.CheckboxGroup(choices=list(COMPARISON_CHOICES), value=list(D2L_PRESETS),
                                       label=tr("Networks"), elem_id="runs-presets")
            dataset = gr.Dropdown(choices=list(DATASET_NAMES), value="shapes", label=tr("Dataset"))
            epochs = gr.Number(value=2, label=tr("Epochs"), precision=0, minimum=1, maximum=20)
            subset = gr.Number(value=4000, label=tr("Training examples (0 = all)"), precision=0, minimum=0,
                               maximum=1_000_000)
            lr = gr.Number(value=COMPARISON_LR, label=tr("Learning rate"), minimum=0.0, maximum=1.0)
        with gr.Row():
            start = gr.Button(tr("Train them one after another"), variant="primary", elem_id="runs-start")
            stop = gr.Button(tr("Stop"), variant="stop", elem_id="runs-stop")
        c["status"] = gr.Markdown(elem_id="runs-status")
        c["live"] = gr.Plot(label=tr("Training curves"), elem_id="runs-live")
    shown = [c[name] for name in ("table", "pick", "curves", "differences", "count")]
    fast: dict[str, Any] = dict(concurrency_limit=None, api_visibility="private", show_progress="hidden")

    def refresh(records: list[RunRecord], picked: list[int], request: gr.Request) -> dict[Any, Any]:
        new = runs.FINISHED.take(request.session_hash if request else None)
        records = add_runs(records or [], new)
        return {c["runs"]: records, **{c[name]: value for name, value in view(records, picked).items()}}

    if train_event is not None:
        train_event.then(refresh, [c["runs"], c["pick"]], [c["runs"], *shown], **fast)
    c["pick"].input(lambda records, picked: {c[name]: value for name, value in view(records, picked).items()
                                              if name != "pick"},
                    [c["runs"], c["pick"]], shown, **fast)

    def load(records: list[RunRecord], picked: list[int], path: str | None) -> dict[Any, Any]:
        if not path:
            return {}
        try:
            new = runs.read_run(path)
        except SpecError as exc:
            gr.Warning(str(exc))
            return {c["message"]: f"<div class='spec-error'>⚠️ Could not load runs: {html.escape(str(exc))}</div>"}
        records = add_runs(records or [], new)
        picked = list(range(len(records) - len(new), len(records)))
        return {c["runs"]: records, c["message"]: f"Loaded {len(new)} run{'s' if len(new) != 1 else ''}.",
                **{c[name]: value for name, value in view(records, picked).items()}}

    upload.upload(load, [c["runs"], c["pick"], upload], [c["runs"], c["message"], *shown], **fast)

    def save(records: list[RunRecord], picked: list[int]) -> dict[Any, Any]:
        selection = chosen(records or [], picked) or list(records or [])
        if not selection:
            return {c["message"]: "No runs to download yet."}
        from . import limits

        folder = limits.server().disk.new_folder("runs")
        path = (runs.export_run(selection[0], folder) if len(selection) == 1
                else runs.runs_zip(selection, folder, name=f"runs-{len(selection)}.zip"))
        return {c["file"]: str(path), c["message"]: f"{len(selection)} run{'s' if len(selection) != 1 else ''} "
                                                     f"ready to download."}

    download.click(save, [c["runs"], c["pick"]], [c["file"], c["message"]], **fast)

    async def compare(records: list[RunRecord], names: list[str], dataset_name: str, epoch_count: Any,
                      examples: Any, rate: Any, request: gr.Request) -> AsyncIterator[dict[Any, Any]]:
        async for update in train_comparison(records, names, dataset_name, epoch_count, examples, request,
                                             lr=rate):
            yield {c[name]: value for name, value in update.items()}

    event = start.click(compare, [c["runs"], presets, dataset, epochs, subset, lr],
                        [c["runs"], c["status"], c["live"], *shown], concurrency_limit=None,
                        concurrency_id="train-gate", api_visibility="private", show_progress="minimal")
    stop.click(lambda: "Stopped: the run in progress was cancelled; the finished ones are listed above.", None,
               c["status"], cancels=[event], **fast)
    return c


async def train_comparison(records: list[RunRecord], names: Sequence[str], dataset: str, epochs: Any,
                           examples: Any, request: gr.Request | None, *, lr: Any = None
                           ) -> AsyncIterator[dict[str, Any]]:
    """Train each preset in turn through the Train tab's queued handler; yield status, live curves and, after
    each run, the runs list and the comparison."""
    names = [name for name in COMPARISON_CHOICES if name in (names or [])]
    if not names:
        raise gr.Error("Pick at least one network to train.")
    session = request.session_hash if request else None
    records = list(records or [])
    finished: list[int] = []
    for number, name in enumerate(names, 1):
        settings = comparison_settings(name, dataset, epochs, examples, lr)
        prefix = f"**Run {number} of {len(names)}: {name}.** "
        handler = train_panel.queued_training(*settings, request=request)
        try:
            async for update in handler:
                status, curves = update[0], update[1]
                out: dict[str, Any] = {}
                if isinstance(status, str):
                    out["status"] = prefix + status
                if curves is not None and not isinstance(curves, dict):  # a figure (not gr.skip())
                    out["live"] = curves
                if out:
                    yield out
        except gr.Error as exc:
            yield {"status": f"{prefix}not trained: {html.escape(str(exc))}"}
            continue
        finally:
            await handler.aclose()
        new = runs.FINISHED.take(session)
        if new:
            before = len(records)
            records = add_runs(records, new)
            finished += list(range(before, len(records)))
            yield {"runs": records, **view(records, finished)}
    yield {"status": f"Done: {len(finished)} of {len(names)} networks trained; they are picked above.",
           "runs": records, **view(records, finished)}
