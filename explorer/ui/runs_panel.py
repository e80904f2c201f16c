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
from .i18n import tr, wants_chinese

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
#: The table's headers on a Chinese page (:data:`explorer.runs.TABLE_HEADERS` in order).
HEADERS_ZH = ["#", "训练", "网络", "参数量", "每张图 MACs", "数据集", "配方", "训练轮数", "用时", "每秒样本数", "测试精度",
              "设备"]
INTRO = " ".join("""**Every run this browser session finished**, side by side. Pick two or more to overlay their test
accuracy by epoch and by wall time and to see what differs. Download runs to show them again later (a run file
holds the curves and settings, not the weights: the checkpoint goes to the *Inspect* tab); the box below loads a run
file (`.json`), an archive of them (`.zip`) or a checkpoint (`.pt`) this app wrote.""".split())  # one line: the key of its translation
INTRO_ZH = ("**本浏览器会话中完成的每次训练**，并排显示。选两个或更多，叠加它们按迭代周期和按实际用时的测试精度曲线，并查看差异。"
            "可下载训练记录以后再展示（记录文件包含曲线和设置，不含权重：检查点请在*透视网络*页使用）；下面的上传框可载入训练记录文件"
            "（`.json`）、它们的压缩包（`.zip`）或本应用保存的检查点（`.pt`）。")
UPLOAD_LABEL = "Load runs (.json, .zip or a checkpoint .pt)"
UPLOAD_LABEL_ZH = "载入训练记录（.json、.zip 或检查点 .pt）"
NO_RUNS = "No runs yet."
NO_RUNS_ZH = "还没有训练记录。"
#: The differences table's row names in Chinese; recipe settings keep their field names (in code font).
DIFFERENCES_ZH = {"network": "网络", "family": "网络家族", "parameters": "参数量", "MACs/image": "每张图 MACs",
                  "input": "输入", "dataset": "数据集", "device": "设备", "epochs completed": "完成的迭代周期",
                  "steps": "步数", "time": "用时", "examples/s": "每秒样本数", "test accuracy": "测试精度",
                  "vs best accuracy": "与最高精度之差", **{name: f"`{name}`" for name in runs.RECIPE_FIELDS}}
#: The recipe column's values in Chinese.
RECIPES_ZH = {"short": "短时", "published": "已发表"}


def chinese(request: gr.Request | None) -> bool:
    """Whether the browser that sent ``request`` asks for Chinese (server-computed text follows it)."""
    try:
        return wants_chinese(request.headers.get("accept-language")) if request is not None else False
    except AttributeError:
        return False


# -- pure helpers -------------------------------------------------------------------------------------------------


def run_choices(records: Sequence[RunRecord]) -> list[tuple[str, int]]:
    return [(f"{number}. {record.label} · {record.dataset} · {record.test_acc:.3f}", number - 1)
            for number, record in enumerate(records, 1)]


def table_value(records: Sequence[RunRecord], *, zh: bool = False) -> list[list[Any]]:
    rows = [[number, *row] for number, row in enumerate(runs.runs_table(records), 1)]
    if zh:
        recipe = HEADERS.index("Recipe")
        for row in rows:
            row[recipe] = RECIPES_ZH.get(row[recipe], row[recipe])
    return rows


def chosen(records: Sequence[RunRecord], picked: Sequence[Any] | None) -> list[RunRecord]:
    indices = sorted({int(index) for index in picked or () if isinstance(index, (int, float))
                      and 0 <= int(index) < len(records)})
    return [records[index] for index in indices]


def curves_figure(records: Sequence[RunRecord], *, zh: bool = False) -> go.Figure:
    """Test accuracy by epoch (left) and by wall time (right), one colour per run."""
    titles = ("按迭代周期", "按实际用时") if zh else ("by epoch", "by wall time")
    figure = make_subplots(rows=1, cols=2, subplot_titles=titles,
                           horizontal_spacing=0.1)
    for number, record in enumerate(records):
        curves = record.curves
        colour = _COLOURS[number % len(_COLOURS)]
        name = f"{record.label} ({record.dataset})"
        common = dict(mode="lines+markers", line=dict(color=colour), legendgroup=str(number), name=name)
        figure.add_trace(go.Scatter(x=curves.get("epoch", []), y=curves.get("test_acc", []), **common), 1, 1)
        figure.add_trace(go.Scatter(x=curves.get("elapsed_s", []), y=curves.get("test_acc", []), showlegend=False,
                                    **common), 1, 2)
    figure.update_xaxes(title_text="迭代周期" if zh else "epoch", row=1, col=1, dtick=1)
    figure.update_xaxes(title_text="自训练开始以来的秒数" if zh else "seconds since the run started", row=1, col=2)
    figure.update_yaxes(title_text="测试精度" if zh else "test accuracy", rangemode="tozero", row=1, col=1)
    figure.update_yaxes(rangemode="tozero", row=1, col=2)
    figure.update_layout(template="none", height=360, margin=dict(l=60, r=20, t=40, b=50),
                         legend=dict(orientation="h", y=-0.25))
    return figure


_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


def differences_markdown(records: Sequence[RunRecord], *, zh: bool = False) -> str:
    if len(records) < 2:
        return "选两个或更多训练记录，查看它们的差异。" if zh else "Pick two or more runs to see what differs."
    rows = runs.differences(records)
    if zh:
        rows = [[DIFFERENCES_ZH.get(row[0], row[0]),
                 *(RECIPES_ZH.get(cell, cell) if row[0] == "recipe" else cell for cell in row[1:])] for row in rows]
    header = "| | " + " | ".join(f"**{number}. {html.escape(record.label)}**"
                                   for number, record in enumerate(records, 1)) + " |"
    lines = [header, "|---" * (len(records) + 1) + "|"]
    lines += ["| " + " | ".join(str(cell) if number == 0 and zh else html.escape(str(cell))
                                for number, cell in enumerate(row)) + " |" for row in rows]
    return "\n".join(lines)


def view(records: Sequence[RunRecord], picked: Sequence[Any] | None, *, zh: bool = False) -> dict[str, Any]:
    """The table, the choices (keeping the picked ones), the curves and the differences (``zh``: in Chinese, the
    table with Chinese headers)."""
    valid = [index for index in (picked or []) if isinstance(index, int) and 0 <= index < len(records)]
    if not valid and records:
        valid = list(range(max(0, len(records) - 2), len(records)))  # the last two
    selection = chosen(records, valid)
    if zh:
        count = (f"本会话中有 {len(records)} 个训练记录。" if records else
                 "还没有训练记录：在训练页训练一个，在下面训练 d2l 的对比，或者载入训练记录文件（.json、.zip）"
                 "或检查点（.pt）。")
    else:
        count = (f"{len(records)} run{'s' if len(records) != 1 else ''} in this session." if records else
                 "No runs yet: train one in the Train tab, train d2l's comparison below, or load a run file (.json, "
                 ".zip) or a checkpoint (.pt).")
    table: Any = table_value(records, zh=zh)
    if zh:
        table = gr.Dataframe(value={"data": table, "headers": HEADERS_ZH}, headers=HEADERS_ZH)
    return {"table": table, "pick": gr.CheckboxGroup(choices=run_choices(records), value=valid),
            "curves": curves_figure(selection, zh=zh), "differences": differences_markdown(selection, zh=zh),
            "count": count}


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
    gr.Markdown(tr(INTRO, zh=INTRO_ZH))
    c: dict[str, Any] = {}
    c["runs"] = gr.State([])
    c["count"] = gr.Markdown(tr(NO_RUNS, zh=NO_RUNS_ZH), elem_id="runs-count")
    c["table"] = gr.Dataframe(headers=HEADERS, value=[], interactive=False, wrap=True, elem_id="runs-table",
                              label=tr("Runs"))
    c["pick"] = gr.CheckboxGroup(choices=[], label=tr("Runs to compare"), elem_id="runs-pick")
    c["curves"] = gr.Plot(label=tr("Test accuracy"), elem_id="runs-curves")
    c["differences"] = gr.Markdown(elem_id="runs-differences")
    with gr.Row():
        download = gr.Button(tr("Download the picked runs"), size="sm", elem_id="runs-download")
        c["file"] = gr.File(label=tr("Run file"), interactive=False, height=80, elem_id="runs-file")
        upload = gr.File(label=tr(UPLOAD_LABEL, zh=UPLOAD_LABEL_ZH), file_types=list(UPLOAD_TYPES), type="filepath",
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

    def localize(request: gr.Request) -> Any:
        """On load: a Chinese page gets the table's headers in Chinese (the rest follows each update)."""
        return gr.Dataframe(value={"data": [], "headers": HEADERS_ZH}, headers=HEADERS_ZH) if chinese(request) \
            else gr.skip()

    gr.on(triggers=None, fn=localize, inputs=None, outputs=c["table"], **fast)

    def refresh(records: list[RunRecord], picked: list[int], request: gr.Request) -> dict[Any, Any]:
        new = runs.FINISHED.take(request.session_hash if request else None)
        records = add_runs(records or [], new)
        return {c["runs"]: records,
                **{c[name]: value for name, value in view(records, picked, zh=chinese(request)).items()}}

    if train_event is not None:
        train_event.then(refresh, [c["runs"], c["pick"]], [c["runs"], *shown], **fast)

    def pick(records: list[RunRecord], picked: list[int], request: gr.Request) -> dict[Any, Any]:
        return {c[name]: value for name, value in view(records, picked, zh=chinese(request)).items()
                if name != "pick"}

    c["pick"].input(pick, [c["runs"], c["pick"]], shown, **fast)

    def load(records: list[RunRecord], picked: list[int], path: str | None, request: gr.Request) -> dict[Any, Any]:
        if not path:
            return {}
        zh = chinese(request)
        try:
            new = runs.read_run(path)
        except SpecError as exc:
            gr.Warning(str(exc))
            what = "无法载入训练记录" if zh else "Could not load runs"
            return {c["message"]: f"<div class='spec-error'>⚠️ {what}: {html.escape(str(exc))}</div>"}
        records = add_runs(records or [], new)
        picked = list(range(len(records) - len(new), len(records)))
        loaded = f"已载入 {len(new)} 个训练记录。" if zh else f"Loaded {len(new)} run{'s' if len(new) != 1 else ''}."
        return {c["runs"]: records, c["message"]: loaded,
                **{c[name]: value for name, value in view(records, picked, zh=zh).items()}}

    upload.upload(load, [c["runs"], c["pick"], upload], [c["runs"], c["message"], *shown], **fast)

    def save(records: list[RunRecord], picked: list[int], request: gr.Request) -> dict[Any, Any]:
        zh = chinese(request)
        selection = chosen(records or [], picked) or list(records or [])
        if not selection:
            return {c["message"]: "还没有可下载的训练记录。" if zh else "No runs to download yet."}
        from . import limits

        folder = limits.server().disk.new_folder("runs")
        path = (runs.export_run(selection[0], folder) if len(selection) == 1
                else runs.runs_zip(selection, folder, name=f"runs-{len(selection)}.zip"))
        ready = (f"{len(selection)} 个训练记录可以下载了。" if zh else
                 f"{len(selection)} run{'s' if len(selection) != 1 else ''} ready to download.")
        return {c["file"]: str(path), c["message"]: ready}

    download.click(save, [c["runs"], c["pick"]], [c["file"], c["message"]], **fast)

    async def compare(records: list[RunRecord], names: list[str], dataset_name: str, epoch_count: Any,
                      examples: Any, rate: Any, request: gr.Request) -> AsyncIterator[dict[Any, Any]]:
        async for update in train_comparison(records, names, dataset_name, epoch_count, examples, request,
                                             lr=rate):
            yield {c[name]: value for name, value in update.items()}

    event = start.click(compare, [c["runs"], presets, dataset, epochs, subset, lr],
                        [c["runs"], c["status"], c["live"], *shown], concurrency_limit=None,
                        concurrency_id="train-gate", api_visibility="private", show_progress="minimal")
    def stopped(request: gr.Request) -> str:
        return ("已停止：进行中的训练已取消；完成的训练列在上面。" if chinese(request) else
                "Stopped: the run in progress was cancelled; the finished ones are listed above.")

    stop.click(stopped, None, c["status"], cancels=[event], **fast)
    return c


async def train_comparison(records: list[RunRecord], names: Sequence[str], dataset: str, epochs: Any,
                           examples: Any, request: gr.Request | None, *, lr: Any = None
                           ) -> AsyncIterator[dict[str, Any]]:
    """Train each preset in turn through the Train tab's queued handler; yield status, live curves and, after
    each run, the runs list and the comparison."""
    names = [name for name in COMPARISON_CHOICES if name in (names or [])]
    zh = chinese(request)
    if not names:
        raise gr.Error("至少选一个要训练的网络。" if zh else "Pick at least one network to train.")
    session = request.session_hash if request else None
    records = list(records or [])
    finished: list[int] = []
    for number, name in enumerate(names, 1):
        settings = comparison_settings(name, dataset, epochs, examples, lr)
        prefix = (f"**第 {number}/{len(names)} 个训练：{name}。** " if zh else
                  f"**Run {number} of {len(names)}: {name}.** ")
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
            yield {"status": f"{prefix}{'没有训练' if zh else 'not trained'}: {html.escape(str(exc))}"}
            continue
        finally:
            await handler.aclose()
        new = runs.FINISHED.take(session)
        if new:
            before = len(records)
            records = add_runs(records, new)
            finished += list(range(before, len(records)))
            yield {"runs": records, **view(records, finished, zh=zh)}
    done = (f"完成：{len(names)} 个网络中训练了 {len(finished)} 个；它们已在上面选中。" if zh else
            f"Done: {len(finished)} of {len(names)} networks trained; they are picked above.")
    yield {"status": done, "runs": records, **view(records, finished, zh=zh)}
