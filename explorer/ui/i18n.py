"""English and Simplified Chinese for the page's labels, through ``gr.I18n``.

UI code wraps each fixed text in :func:`tr`; the browser's language picks the translation. The English text is
the source of truth: :data:`ZH` maps it to Chinese, and text without a translation stays in English.
"""
from __future__ import annotations

import hashlib

import gradio as gr

_KEYS: dict[str, str] = {}  # key -> English text


def tr(text: str, *, zh: str | None = None) -> gr.i18n.I18nData:
    """A translatable label. Keys are derived from the English text (dot-free, stable across runs).

    ``zh`` gives the Chinese text where it lives next to the English one (a lesson's ``title_zh``, a preset's
    ``description_zh``) instead of in :data:`ZH`.
    """
    key = "t" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    _KEYS[key] = text
    if zh:
        ZH.setdefault(text, zh)
    return gr.i18n.I18nData(key)


def build_i18n() -> gr.I18n:
    """The translations of every text wrapped so far (call after building the app)."""
    english = dict(_KEYS)
    chinese = {key: ZH.get(text, text) for key, text in _KEYS.items()}
    return gr.I18n(en=english, **{"zh-CN": chinese, "zh": chinese})


def wants_chinese(accept_language: str | None) -> bool:
    """Whether a browser's Accept-Language puts Chinese first (for text computed on the server)."""
    if not accept_language:
        return False
    first = accept_language.split(",")[0].strip().lower()
    return first.startswith("zh")


ZH: dict[str, str] = {
    # app
    "Explore": "探索", "Compare": "对比", "Train": "训练", "Lessons": "课程", "API": "API", "GPU": "GPU",
    "Edit a classic CNN — VGG's `conv_arch`, GoogLeNet's Inception table, NiN's blocks, AlexNet's options — and see "
    "it rebuilt at once: shapes, parameters, MACs, memory and receptive fields. Then train it and watch the GPU.":
        "编辑经典卷积神经网络——VGG 的 `conv_arch`、GoogLeNet 的 Inception 表、NiN 的块、AlexNet 的选项——立即看到重建后的"
        "网络：各层形状、参数量、乘加运算量（MACs）、内存和感受野。然后训练它，并观察 GPU。",
    "Parameters per block": "每块参数量",
    # explore: editors
    "Family": "网络家族", "Preset": "预设", "Loads a published network; then edit anything.": "载入已发表的网络，然后随意修改。",
    "conv_arch: ((num_convs, out_channels), ...)": "conv_arch：((卷积层数 num_convs, 输出通道数 out_channels), ...)",
    "d2l's notation: one pair per block; each block ends in a 2x2 max-pool.":
        "d2l 的写法：每个块一对数字；每个块以 2x2 最大池化结束。",
    "Width ratio": "宽度缩小比例", "out_channels // ratio (d2l's small VGG: 4)": "输出通道数 out_channels // 比例 ratio（d2l 的小 VGG：4）",
    "Adaptive avg-pool": "自适应平均池化", "7 as torchvision; 0 = none (d2l)": "torchvision 为 7；0 = 不用（d2l）",
    "6 as torchvision; 0 = none": "torchvision 为 6；0 = 不用",
    "Hidden FC sizes": "隐藏全连接层大小", "comma-separated; empty = a single FC layer": "逗号分隔；留空 = 只有一个全连接层",
    "Batch norm": "批量归一化", "FC layers as convolutions (any input size)": "全连接层改为卷积（任意输入尺寸）",
    "Dropout": "Dropout（丢弃率）", "Inception blocks (in → out derived)": "Inception 块（输入 → 输出通道自动推导）",
    "Stem channels": "主干（stem）通道数", "7x7/2 conv, 1x1 conv, 3x3 conv": "7x7/2 卷积、1x1 卷积、3x3 卷积",
    "Wide branch kernel": "宽分支卷积核", "paper/d2l: 5; torchvision: 3": "论文/d2l：5；torchvision：3",
    "Aux classifiers": "辅助分类器", "Pooling": "池化方式", "torchvision: ceil; d2l: pad": "torchvision：ceil；d2l：pad",
    "NiN blocks (mlp_channels empty = two 1x1 of out_channels)": "NiN 块（mlp_channels 留空 = 两个 out_channels 个通道的 1x1 卷积）",
    "Add block": "添加一块",
    "out = ch1x1 + ch3x3 + ch5x5 + pool_proj: the four branches are concatenated":
        "out = ch1x1 + ch3x3 + ch5x5 + pool_proj：四个分支在通道维上拼接",
    "Pool kernel": "池化核", "Pool stride": "池化步幅", "Head kernel": "输出块卷积核",
    "Conv channels (5)": "卷积通道数（5 层）", "conv1 kernel, stride, padding": "conv1 卷积核、步幅、填充",
    "Groups": "分组", "2 = the paper's two-GPU split": "2 = 论文中的双 GPU 拆分",
    "Overlapping pooling (3x3/2)": "重叠池化（3x3/2）", "Local response norm": "局部响应归一化（LRN）",
    "LRN n": "LRN n", "LRN α": "LRN α", "LRN β": "LRN β", "LRN k": "LRN k",
    "Input size (px)": "输入尺寸（像素）", "Input channels": "输入通道数", "Classes": "类别数",
    "Batch size (memory estimate)": "批量大小（用于内存估计）", "Pin as A (compare)": "固定为 A（对比）",
    "Export this network": "导出此网络", "Format": "格式", "Build file": "生成文件", "Download": "下载",
    "The address bar always holds this network: copy it to share.": "地址栏始终保存着当前网络：复制链接即可分享。",
    "Chart": "图表", "Log scale": "对数坐标", "Layers": "各层",
    "Why does it look like this? (with your numbers)": "为什么是这样？（用你的数字解释）",
    "Parameters": "参数量", "Shape flow": "形状变化", "MACs": "乘加运算", "Memory": "内存",
    "PyTorch (.py)": "PyTorch（.py）", "ONNX (.onnx)": "ONNX（.onnx）", "JSON spec (.json)": "JSON 规格（.json）",
    "Text summary (.txt)": "文本摘要（.txt）",
    # lessons
    "Lesson": "课程", "Load this network": "载入这个网络", "Show answers": "显示答案",
    "### Lessons\nEach lesson loads a classic network into the **Explore** tab, says what to look at, and asks "
    "questions whose answers are computed from the network on the Explore tab — edit it there and the answers follow.":
        "### 课程\n每节课把一个经典网络载入**探索**页，告诉你该看什么，并提出问题；答案由探索页上的网络实时计算——"
        "在那里修改网络，答案也会随之变化。",
    # GPU panel
    "Utilisation": "利用率", "GPUs (as nvidia-smi shows them)": "GPU（与 nvidia-smi 显示的一致）", "Processes": "进程",
    "What do these columns mean?": "这些列是什么意思？",
    "GPU monitor": "GPU 监控",
    # train panel
    "Dataset": "数据集", "Epochs": "训练轮数", "Batch size": "批量大小", "Learning rate": "学习率",
    "Optimizer": "优化器", "Precision": "数值精度", "auto: bf16 autocast where the hardware has it":
        "auto：硬件支持时使用 bf16 自动混合精度", "Device": "设备", "Input size (0 = recipe's)": "输入尺寸（0 = 按配方）",
    "Training examples (0 = all)": "训练样本数（0 = 全部）", "Short-run recipe": "短时训练配方",
    "Use published recipe": "使用已发表的配方", "Check memory and time": "检查内存和时间", "Start": "开始",
    "Stop": "停止", "Training curves": "训练曲线", "Per-class accuracy": "各类别精度", "Confusion matrix": "混淆矩阵",
    "Sample predictions": "样本预测", "Checkpoint (weights, spec, config, metrics)": "检查点（权重、规格、配置、指标）",
    # headline cards (rendered on the server)
    "MACs / image": "每张图乘加运算", "Parameter memory": "参数内存", "Training memory": "训练内存",
    "Receptive field": "感受野", "Output": "输出",
    # inspect panel
    "Inspect": "透视网络", "Inspect the last training run": "查看最近一次训练的网络",
    "Or upload a checkpoint (.pt) this app wrote": "或上传本应用保存的检查点（.pt）",
    "Test images": "测试图像", "Test images (misclassified first; click one)": "测试图像（分错的排在前面；点击一张）",
    "Draw": "手绘", "Draw a shape or a digit": "画一个图形或数字",
    "Pick the brush on the left of the canvas, draw, then press the button.": "先选画布左侧的画笔，画好后点击按钮。",
    "Inspect the drawing": "分析这幅画", "Upload": "上传", "An image (PNG, JPEG, ...)": "一张图像（PNG、JPEG 等）",
    "Grad-CAM class": "Grad-CAM 类别", "Grad-CAM block": "Grad-CAM 所在块", "What the network sees": "网络看到的图像",
    "Grad-CAM": "Grad-CAM", "Top-5 classes": "前 5 个类别", "Block": "块", "Feature maps": "特征图",
    "Inception branches": "Inception 各分支", "First layer's filters": "第一层的卷积核",
    "**Look inside a trained network.** Train one in the *Train* tab (or upload a checkpoint this app wrote), then "
    "pick a test image, draw one or upload one: see what the network sees, its five most likely classes, what every "
    "block computes (the most active channels), the first layer's filters, and Grad-CAM — where in the image the "
    "evidence for a class lies.":
        "**透视训练好的网络。** 先在*训练*页训练一个网络（或上传本应用保存的检查点），再选一张测试图像、手绘一张或上传一张："
        "看网络看到的图像、最可能的五个类别、每个块算出了什么（最活跃的通道）、第一层的卷积核，以及 Grad-CAM——"
        "图像中支持某个类别的证据在哪里。",
    # runs panel
    "Runs": "训练记录", "Runs to compare": "要对比的训练", "Test accuracy": "测试精度",
    "Download the picked runs": "下载所选训练记录", "Run file": "训练记录文件", "Load runs (.json or .zip)":
        "载入训练记录（.json 或 .zip）",
    "d2l's comparison: train the four families one after another": "d2l 的对比：依次训练四个网络家族",
    "Each network gets the same recipe (Adam, batch 128, one learning rate: 0.001 makes AlexNet diverge) on the same "
    "data for the same epochs, one after another in the training queue; then they appear here side by side.":
        "每个网络使用相同的配方（Adam，批量 128，同一个学习率：0.001 会让 AlexNet 发散），在相同数据上训练相同轮数，"
        "在训练队列中依次进行；完成后在这里并排显示。",
    "Networks": "网络", "Train them one after another": "依次训练它们",
    "**Every run this browser session finished**, side by side. Pick two or more to overlay their test accuracy by "
    "epoch and by wall time and to see what differs. Download runs to show them again later (a run file holds the "
    "curves and settings, not the weights: the checkpoint goes to the *Inspect* tab).":
        "**本浏览器会话中完成的每次训练**，并排显示。选两个或更多，叠加它们按轮数和按实际用时的测试精度曲线，并查看"
        "差异。可下载训练记录以后再展示（记录文件包含曲线和设置，不含权重：检查点请在*透视网络*页上传）。",
    # explore: the ResNet editor
    "Stages (in → out derived)": "各阶段（输入 → 输出通道自动推导）", "Add stage": "添加一个阶段", "Style": "风格",
    "each stage's first block strides; a 1x1-conv shortcut is used where the shape changes":
        "每个阶段的第一个块负责步幅下采样；形状改变处的捷径（shortcut）使用 1x1 卷积",
    "basic: 3x3 → 3x3 (ResNet-18/34); bottleneck: 1x1 → 3x3 → 1x1, out = 4 x channels":
        "basic：3x3 → 3x3（ResNet-18/34）；bottleneck：1x1 → 3x3 → 1x1，输出 = 4 × channels",
    "torchvision: no conv bias, shortcut 1x1 conv + BN; d2l: conv bias, no shortcut BN":
        "torchvision：卷积无偏置，捷径为 1x1 卷积 + BN；d2l：卷积有偏置，捷径无 BN",
    "7x7/2 conv → BN → ReLU → 3x3/2 max-pool": "7x7/2 卷积 → BN → ReLU → 3x3/2 最大池化",
    # Teacher tab (only with EXPLORER_ADMIN_PASSWORD)
    "Teacher": "教师",
    "Enter the teacher password to see the training queue, stop the current run or clear the queue.":
        "输入教师密码，即可查看训练队列、停止当前训练或清空队列。",
    "Teacher password": "教师密码", "Show the queue": "显示队列", "Stop the current run": "停止当前训练",
    "Clear the queue": "清空队列",
}


def _preset_labels() -> dict[str, str]:
    """Each preset's picker label (:meth:`Preset.label`) -> its Chinese label, for ``tr(preset.label())``."""
    from ..presets import list_presets

    return {preset.label(): preset.label(zh=True) for preset in list_presets() if preset.description_zh}


ZH.update(_preset_labels())
