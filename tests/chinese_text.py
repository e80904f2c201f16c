"""What counts as English on the Chinese page: shared by the Chinese page test and the panels' Chinese tests."""
from __future__ import annotations

import re

#: Words a Chinese page may show as they are: family and layer names, libraries, units, formats, datasets.
ALLOWED_WORDS = {
    "VGG", "GoogLeNet", "NiN", "AlexNet", "ResNet", "Inception", "API", "GPU", "GPUs", "CPU", "RAM", "ONNX",
    "PyTorch", "JSON", "NVML", "MACs", "MAC", "px", "fp32", "bf16", "Adam", "SGD", "ReLU", "BN", "LRN", "RF",
    "Grad", "CAM", "d2l", "torchvision", "Gradio", "KiB", "MiB", "GiB", "kB", "MB", "GB", "ceil", "pad", "basic",
    "bottleneck", "auto", "nvidia", "smi", "CSV", "TSV", "PNG", "JPEG", "jpeg", "png", "pt", "py", "txt", "json",
    "zip", "onnx", "Fashion", "MNIST", "CIFAR", "shapes", "mlpconv", "GFLOPS", "top", "dropout", "Dropout",
    "stem", "flatten", "jump", "head", "features", "in", "out", "lr", "ms", "s", "x", "n", "k", "a", "b", "C",
    "F", "I", "y", "v1", "proj", "red", "relu", "shortcut", "block", "stage", "size", "stride", "groups", "ratio", "kxk", "googlenet",
    "alexnet", "resnet", "vgg", "nin", "on", "off", "avgpool", "maxpool",  # module names (torchvision's ResNet)
}
#: A line made of identifiers only: layer names (``features.block1.conv1``), table headers and cells.
IDENTIFIER_LINE = re.compile(r"^[\w.\-+→×·,:;()\[\]/=%≈ ]*$")
#: A word; tokens with a digit, an underscore or a dot (vgg16, conv_arch, head.avgpool, C_in) are identifiers.
WORD = re.compile(r"[A-Za-z][\w.']*")


def english_lines(text: str) -> list[str]:
    """Lines of ``text`` with an English word that is not an allowed identifier."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or IDENTIFIER_LINE.match(line) and not re.search(r"[a-z]{3,} [a-z]{3,}", line):
            continue
        code_free = re.sub(r"`[^`]*`", " ", line)
        # Words of one or two letters are symbols and units (A, n, k, G in 15.48G, 4c); English prose has longer ones.
        words = [word for word in WORD.findall(code_free) if word.strip(".") not in ALLOWED_WORDS and len(word) > 2
                 and not re.search(r"[\d_]|\w\.\w", word)
                 and not re.fullmatch(r"(conv|fc|mlp|bn|pool|layer|block|inception|nin|branch|ch)\w*", word)]
        if words:
            found.append(line)
    return found
