"""The whole page: Explore, Compare and Train tabs, a GPU sidebar reachable from every tab, the /analyze API, and
a Teacher tab when ``EXPLORER_ADMIN_PASSWORD`` is set. The server's limits are read from the environment when the
app is built (:mod:`explorer.server.settings`)."""
from __future__ import annotations

import gc
import json
import os
import re
from typing import Any

import gradio as gr

from ..analysis import analyze
from ..charts.diagram import DIAGRAM_CSS
from ..presets import resolve_spec
from ..specs import SpecError
from . import limits
from .admin_panel import build_admin_panel
from .i18n import build_i18n, tr, wants_chinese
from .explore import DEFAULT_PRESET, build_explore_panel, compare_view, load_outputs, restore_from_query
from .gpu_panel import build_gpu_opener, build_gpu_panel
from .inspect_panel import build_inspect_panel, max_file_size
from .runs_panel import build_runs_panel
from .lessons_panel import build_lessons_panel
from .train_panel import build_train_panel

TITLE = "CNN Architecture Explorer"
TITLE_ZH = "CNN 架构探索器"
INTRO = ("Edit a classic CNN — VGG's `conv_arch`, GoogLeNet's Inception table, NiN's blocks, AlexNet's options — and see "
         "it rebuilt at once: shapes, parameters, MACs, memory and receptive fields. Then train it and watch the GPU.")
CSS = """
/* Gradio 6.31's wheel ships SourceSansPro-SemiBold.woff2 as a 5 kB subset of a few glyphs ("A", "B", ...), so text at
   weight 600 (the title, headline numbers, bold Markdown) mixed that face with the system's bold fallback: the title's
   "A" came out thinner than the rest. Weight 600 uses the complete Bold file from the same wheel instead (the same for
   IBM Plex Mono): a later @font-face rule with the same descriptors replaces the theme's. */
@font-face {font-family: "Source Sans Pro"; font-style: normal; font-weight: 600;
            src: url("static/fonts/SourceSansPro/SourceSansPro-Bold.woff2") format("woff2");}
@font-face {font-family: "Source Sans Pro"; font-style: normal; font-weight: 700;
            src: url("static/fonts/SourceSansPro/SourceSansPro-Bold.woff2") format("woff2");}
@font-face {font-family: "IBM Plex Mono"; font-style: normal; font-weight: 600;
            src: url("static/fonts/IBMPlexMono/IBMPlexMono-Bold.woff2") format("woff2");}
/* Header: the title, and the GPU monitor's button at the right (below the title on a phone) */
#page-header {align-items: center; flex-wrap: wrap; gap: 4px 16px;}
#page-header > #page-title {flex: 1 1 0%; width: auto; min-width: min(100%, 260px);}
#page-header > #gpu-open {flex: 0 0 auto; align-self: center; white-space: nowrap;}
/* Runs table: headers stay on one line ("Epochs", never "Ep/oc/hs"), cells use the page's font, long cells (recipe,
   device) wrap at a readable width; a table wider than the page scrolls sideways inside its own frame */
#runs-table .header-cell .header {white-space: nowrap; overflow-wrap: normal; word-break: keep-all;}
#runs-table .header-cell, #runs-table .sizing-body td, #runs-table .body-cell {font-family: var(--font);
    font-size: 13px;}
#runs-table .sizing-body td .cell-wrap {max-width: 13em;}
#runs-table .virtual-table-viewport {overflow-x: auto; scrollbar-width: thin;}
/* Inspect tab: a picture's label sits above it instead of floating over its top-left corner (on a phone the
   gallery's long label covered the first row of thumbnails), and a picture not loaded yet keeps some height, so
   the labels of empty pictures never land on each other */
[id^="inspect-"] label[data-testid="block-label"].float {position: static; margin: 0 0 4px;}
#inspect-features .image-container, #inspect-filters .image-container,
#inspect-branches .image-container {min-height: 96px;}
.stats {display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 8px;}
.stat {border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px;}
.stat-label {font-size: 0.8em; color: var(--body-text-color-subdued);}
.stat-value {font-size: 1.25em; font-weight: 600;}
.spec-error {border-left: 4px solid #d33; padding: 4px 10px; background: rgba(221, 51, 51, 0.08);}
.preset-note {font-size: 0.85em; color: var(--body-text-color-subdued); min-height: 0;}
.editor-table .header-cell, .editor-table td {font-size: 12px !important;}
.editor-table .cell-wrap {padding-left: 4px !important; padding-right: 2px !important;}
.share-hint {font-size: 0.85em; color: var(--body-text-color-subdued);}
"""
CSS += DIAGRAM_CSS


def analyze_api(spec: str) -> dict:
    """Analyse a network given as a preset name (e.g. "vgg16") or a JSON spec; returns the analysis as JSON.

    Args:
        spec: a preset name or a JSON object such as {"family": "vgg", "conv_arch": [[1, 64], [1, 128]], ...}.
    Returns:
        {"spec": the validated spec, "analysis": per-layer shapes, params, MACs, memory, receptive fields}.
    """
    if not isinstance(spec, str):
        raise gr.Error("spec: expected a preset name or a JSON text")
    try:
        parsed = resolve_spec(spec)
        return {"spec": parsed.to_dict(), "analysis": analyze(parsed).to_dict()}
    except SpecError as exc:
        raise gr.Error(str(exc)) from None


def build_app() -> gr.Blocks:
    """Build the Blocks app (no server is started); the limits start counting afresh."""
    state = limits.configure()
    # Served files (exports, checkpoints) age out of Gradio's cache; the disk budget also deletes them by age.
    with gr.Blocks(title=TITLE, delete_cache=state.settings.delete_cache()) as demo:
        with gr.Row(elem_id="page-header", equal_height=True):
            gr.Markdown(tr(f"# {TITLE}", zh=f"# {TITLE_ZH}"), elem_id="page-title")
            build_gpu_opener()  # the sidebar's own toggle is an unlabelled chevron at the window's edge
        gr.Markdown(tr(INTRO))
        with gr.Sidebar(label=tr("GPU"), open=False, position="right", width=380) as sidebar:
            gpu_timer = build_gpu_panel(active=False)
        # The readings refresh only while the sidebar is open: a closed panel costs the server nothing.
        sidebar.expand(lambda: gr.Timer(active=True), None, gpu_timer, concurrency_limit=None,
                       api_visibility="private", show_progress="hidden")
        sidebar.collapse(lambda: gr.Timer(active=False), None, gpu_timer, concurrency_limit=None,
                         api_visibility="private", show_progress="hidden")
        with gr.Tabs():
            with gr.Tab(tr("Explore"), id="explore"):
                panel = build_explore_panel()
            with gr.Tab(tr("Compare"), id="compare") as compare_tab:
                compare_md = gr.Markdown(elem_id="compare-table")
                compare_plot = gr.Plot(label=tr("Parameters per block"))
            with gr.Tab(tr("Train"), id="train"):
                train = build_train_panel(panel.current_spec)
            with gr.Tab(tr("Inspect"), id="inspect"):
                build_inspect_panel(train.checkpoint)
            with gr.Tab(tr("Runs"), id="runs"):
                build_runs_panel(train.start_event)
            with gr.Tab(tr("Lessons"), id="lessons"):
                build_lessons_panel(panel)
            with gr.Tab(tr("API"), id="api"):
                api_help = gr.Markdown(tr(API_HELP, zh=API_HELP_ZH), elem_id="api-help")
            if state.settings.admin_password:  # no password, no tab (and no admin events at all)
                with gr.Tab(tr("Teacher"), id="teacher"):
                    build_admin_panel()

        compare_inputs = [panel.pinned_spec, panel.current_spec, panel.batch_size]
        compare_tab.select(compare_view, compare_inputs, [compare_md, compare_plot], concurrency_limit=None,
                           api_visibility="private")
        panel.pinned_spec.change(compare_view, compare_inputs, [compare_md, compare_plot], concurrency_limit=None,
                                 api_visibility="private")

        def on_load(request: gr.Request) -> dict:
            query = dict(request.query_params) if request else {}
            chinese = wants_chinese(request.headers.get("accept-language")) if request else False
            if chinese and not query:
                query = {"preset": DEFAULT_PRESET}  # re-render so the headline cards are in Chinese
            return restore_from_query(panel, query, chinese=chinese)

        demo.load(on_load, None, load_outputs(panel), concurrency_limit=None, show_progress="hidden",
                  api_visibility="private")
        demo.load(api_help_markdown, None, api_help, concurrency_limit=None, show_progress="hidden",
                  api_visibility="private")
        # The browser tab's title follows the language like the labels (Blocks(title=) has no translation).
        demo.load(None, None, None, js="() => { if ((navigator.language || '').toLowerCase().startsWith('zh')) "
                                       f"document.title = {json.dumps(TITLE_ZH)}; }}")
        gr.api(analyze_api, api_name="analyze", concurrency_limit=None)
    demo.queue(api_open=False, max_size=int(os.environ.get("EXPLORER_QUEUE_SIZE", "256")),
               default_concurrency_limit=1)
    return demo


def freeze_startup_heap() -> int:
    """Move every object alive after start-up (torch, Gradio, the built page: ~0.5 million) out of the garbage
    collector's view, so its occasional full collections scan only what edits create: measured in-process on
    GoogLeNet edits, the slowest of 60 re-analyses fell from 251 ms to 55 ms. Returns the objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def launch_options() -> dict[str, Any]:
    """Settings for launch(), shared by app.py and the tests. Host and port come from GRADIO_SERVER_NAME/PORT."""
    return dict(css=CSS, max_file_size=max_file_size(), enable_monitoring=False, show_error=False,
                footer_links=["api", "gradio"], i18n=build_i18n())


#: The address the API examples are written with; the API tab shows the page's real address instead.
EXAMPLE_ADDRESS = "http://127.0.0.1:7860/"
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def page_address(request: gr.Request | None) -> str:
    """The page's address as the browser reached it (a proxy's X-Forwarded-Host/-Proto first), for the API
    examples; the example address when the request names no plausible host."""
    if request is None:
        return EXAMPLE_ADDRESS
    headers = request.headers
    host = (headers.get("x-forwarded-host") or headers.get("host") or "").split(",")[0].strip()
    if not _HOST.match(host):  # a header is the client's to write: only a host[:port] goes into the page
        return EXAMPLE_ADDRESS
    scheme = (headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
    if scheme not in ("http", "https"):
        url = getattr(getattr(request, "request", None), "url", None)
        scheme = "https" if getattr(url, "scheme", "http") in ("https", "wss") else "http"
    return f"{scheme}://{host}/"


def api_help_markdown(request: gr.Request = None) -> str:
    """The API tab in the browser's language, its examples written with the page's own address."""
    chinese = wants_chinese(request.headers.get("accept-language")) if request is not None else False
    return (API_HELP_ZH if chinese else API_HELP).replace(EXAMPLE_ADDRESS, page_address(request))


API_HELP = """
### Programmatic use
The page exposes one public endpoint, **`/analyze`**, taking a preset name or a JSON spec and returning the
analysis as JSON. With [gradio_client](https://www.gradio.app/guides/getting-started-with-the-python-client):

~~~python
from gradio_client import Client
client = Client("http://127.0.0.1:7860/")
result = client.predict("vgg16", api_name="/analyze")
print(result["analysis"]["total_params"])          # 138357544
spec = '{"family": "vgg", "conv_arch": [[1, 64], [1, 128], [2, 256]], "input_size": 32, "in_channels": 1, "num_classes": 10}'
print(client.predict(spec, api_name="/analyze")["analysis"]["total_macs"])
~~~
An invalid spec raises an error whose message names the field, e.g.
<code>conv_arch[2]: each block is a pair (num_convs, out_channels) like (2, 256), got (2,)</code>.
"""
#: API_HELP in Chinese: the same code; the server's error messages are English, so only the field is quoted.
API_HELP_ZH = """
### 用程序调用
本页面只公开一个端点：

**`/analyze`**

输入一个预设名称或一个 JSON 规格，返回 JSON 格式的分析结果。使用
[gradio_client](https://www.gradio.app/guides/getting-started-with-the-python-client)：

~~~python
from gradio_client import Client
client = Client("http://127.0.0.1:7860/")
result = client.predict("vgg16", api_name="/analyze")
print(result["analysis"]["total_params"])          # 138357544
spec = '{"family": "vgg", "conv_arch": [[1, 64], [1, 128], [2, 256]], "input_size": 32, "in_channels": 1, "num_classes": 10}'
print(client.predict(spec, api_name="/analyze")["analysis"]["total_macs"])
~~~
规格无效时会返回一个错误，错误信息（英文）开头就是出错的字段，例如 `conv_arch[2]`（每个块应是
`(num_convs, out_channels)` 这样的一对数字）。
"""
