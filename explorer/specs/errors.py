"""The one exception type for anything wrong with a user's spec."""
from __future__ import annotations


class SpecError(ValueError):
    """An invalid architecture spec.

    Attributes:
        field: where the problem is, e.g. ``"conv_arch[2]"`` or ``"blocks.inception4e.ch3x3"``;
            empty when the problem concerns the spec as a whole.
        message: what is wrong, in words a student understands.
        message_zh: the same facts in Simplified Chinese (same field, same numbers); empty when none was written,
            and :meth:`text` then falls back to the English.
    """

    def __init__(self, field: str, message: str, message_zh: str = "") -> None:
        self.field = field
        self.message = message
        self.message_zh = message_zh
        super().__init__(f"{field}: {message}" if field else message)

    def message_for(self, zh: bool = False) -> str:
        """The message (without the field) in Chinese when ``zh`` and there is one, otherwise in English."""
        return self.message_zh if zh and self.message_zh else self.message

    def text(self, zh: bool = False) -> str:
        """``"field: message"`` like ``str(error)``; with ``zh`` the Chinese message (full-width colon)."""
        if not (zh and self.message_zh):
            return str(self)
        return f"{self.field}：{self.message_zh}" if self.field else self.message_zh
