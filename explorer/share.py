"""Specs in page URLs: a compact, URL-safe encoding that survives server restarts (no server-side state)."""
from __future__ import annotations

import base64
import binascii
import json
import zlib

from .specs import Spec, SpecError, parse_spec

#: Longest encoded value accepted from a URL.
MAX_ENCODED_LENGTH = 8_000
#: Largest decompressed JSON accepted (guards against zip bombs).
MAX_DECODED_BYTES = 100_000


def encode_spec(spec: Spec) -> str:
    """``spec`` -> a short URL-safe token (zlib-compressed JSON in base64url, no padding)."""
    text = json.dumps(spec.to_dict(), separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii").rstrip("=")


def decode_spec(token: str) -> Spec:
    """A token from :func:`encode_spec` (or plain JSON) -> validated spec; raises SpecError when malformed."""
    if not isinstance(token, str) or not token.strip():
        raise SpecError("url", "the link holds no network; copy the whole page address again",
                        "链接里没有网络；请重新复制完整的页面地址")
    token = token.strip()
    if len(token) > MAX_ENCODED_LENGTH:
        raise SpecError("url", f"the link's spec is {len(token):,} characters long, more than the limit of "
                               f"{MAX_ENCODED_LENGTH:,}; was it pasted twice?",
                        f"链接中的规格有 {len(token):,} 个字符，超过了上限 {MAX_ENCODED_LENGTH:,}；是不是粘贴了两次？")
    if token.startswith("{"):
        return parse_spec(token)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        inflater = zlib.decompressobj()
        text = inflater.decompress(raw, MAX_DECODED_BYTES)
        if inflater.unconsumed_tail:
            raise SpecError("url", f"the link's spec unpacks to more than {MAX_DECODED_BYTES:,} characters, "
                                  "more than any network needs",
                            f"链接中的规格解压后超过 {MAX_DECODED_BYTES:,} 个字符，比任何网络需要的都多")
    except (binascii.Error, zlib.error, ValueError) as exc:
        if isinstance(exc, SpecError):
            raise
        raise SpecError("url", "the link is damaged, so its network cannot be read; was it cut off when "
                               "copied?",
                        "链接已损坏，读不出其中的网络；是不是复制时被截断了？") from None
    return parse_spec(text.decode("utf-8", "replace"))
