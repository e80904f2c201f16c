"""How the .py export copies model modules: any registered family's module, with whatever it imports from its
package (a ResNet's blocks module, say), and nothing it cannot copy faithfully."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import explorer.export as export
from explorer import load_preset

PARTS = '''
    """Parts a future family might keep in a module of its own."""
    from __future__ import annotations

    from torch import nn

    from .layers import conv_relu

    __all__ = ["residual_block"]


    def residual_block(channels: int) -> nn.Module:
        return Residual(conv_relu(channels, channels, 3, padding=1, batch_norm=True))


    class Residual(nn.Module):
        def __init__(self, body: nn.Module) -> None:
            super().__init__()
            self.body = body

        def forward(self, x):  # noqa: ANN001, ANN201
            return x + self.body(x)
'''
NET = '''
    """A network whose module imports two modules of its package, one under another name."""
    from __future__ import annotations

    import torch
    from torch import nn

    from .layers import RecordedNet
    from .parts import residual_block as block


    class Net(RecordedNet):
        def __init__(self, *, in_channels: int, num_classes: int, **unused) -> None:  # noqa: ANN003
            super().__init__()
            self.stem = nn.Conv2d(in_channels, 8, 3, padding=1)
            self.body = block(8)
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(8, num_classes))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.body(self.stem(x)))
'''


def make_package(root: Path, name: str, modules: dict[str, str]) -> None:
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    layers = Path(export.__file__).parent / "models" / "layers.py"
    (package / "layers.py").write_text(layers.read_text(encoding="utf-8"), encoding="utf-8")
    for module, text in modules.items():
        (package / f"{module}.py").write_text(textwrap.dedent(text), encoding="utf-8")


def test_a_family_module_with_its_own_helpers_is_copied_whole(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    make_package(tmp_path, "fakefamily_ok", {"parts": PARTS, "net": NET})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(export, "family_of", lambda spec: SimpleNamespace(model="fakefamily_ok.net:Net"))
    spec = load_preset("nin_cifar")  # any spec: its in_channels and num_classes reach Net
    source = export.to_pytorch_source(spec)
    # layers first (both others import it), then parts, then net; the alias is bound before it is used
    order = [source.index(f"# --- fakefamily_ok/{module}.py") for module in ("layers", "parts", "net")]
    assert order == sorted(order)
    assert "block = residual_block" in source and "from ." not in source and "__all__" not in source
    namespace: dict = {"__name__": "generated"}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - our generated code
    model = namespace["build_model"]()
    assert type(model).__name__ == "Net"
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, spec.num_classes)
    sys.modules.pop("fakefamily_ok.net", None)


@pytest.mark.parametrize("bad, message", [
    ("from ..elsewhere import thing\n", "only 'from .module import name'"),
    ("from . import parts\n", "only 'from .module import name'"),
    ("import explorer\n", "only torch and the standard library"),
    ("def f():\n    from .layers import conv_relu\n    return conv_relu\n", "inside a block"),
    ("def mlp_head():\n    return None\n", "defines 'mlp_head'"),  # layers.py has one: one file cannot hold both
    ("KWARGS = 1\n", "defines 'KWARGS'"),
])
def test_what_cannot_be_copied_faithfully_is_refused(bad: str, message: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"fakefamily_bad{abs(hash(bad))}"
    make_package(tmp_path, name, {"net": "from .layers import RecordedNet\n" + bad})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(export, "family_of", lambda spec: SimpleNamespace(model=f"{name}.net:Net"))
    with pytest.raises(ValueError, match=message):
        export.to_pytorch_source(load_preset("nin_cifar"))
