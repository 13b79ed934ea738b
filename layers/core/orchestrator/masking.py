"""Keep secret values out of everything the orchestrator writes: step logs, error causes, its own logs.

A ``Masker`` holds the secret values resolved so far (``composition.secrets.get_secrets`` registers
each one as it is fetched) and replaces them with ``***`` (the same mark ``steps.redaction`` uses):

- ``mask(text)`` for step logs and error causes (the step runner passes it to executors as ``ctx.mask``);
- ``install_log_masking(logger)`` for the Powertools logger (or any ``logging.Logger``): the formatted
  record, JSON and all, goes through ``mask`` before a handler writes it, so neither a message, an
  ``extra`` field nor a traceback prints a registered secret.

Values are replaced longest first, so a secret that contains another is masked whole. Each value is
also masked in its encoded forms (``encoded_forms``): JSON-escaped (how it appears inside the Powertools
JSON line), URL-encoded, hex and base64, so a script that prints ``base64(secret)`` shows ``***``. Values shorter than ``min_length`` (default 4) are not registered: masking "1" or "abc"
would garble every log line that has those characters, and a value that short is not a secret anyway.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from orchestrator.steps.redaction import MASK

DEFAULT_MIN_LENGTH = 4
#: shorter base64 runs than this would mask chance matches in unrelated base64 text
_MIN_BASE64_CORE = 6


class Masker:
    def __init__(self, values: Iterable[str] = (), *, min_length: int = DEFAULT_MIN_LENGTH) -> None:
        self.min_length = min_length
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        """Register a secret value (no-op for values shorter than ``min_length``)."""
        if not isinstance(value, str) or len(value) < self.min_length:
            return
        forms = encoded_forms(value)
        with self._lock:
            if forms <= self._values:
                return
            self._values |= forms
            # One alternation, longest first: regex alternation takes the first branch that matches.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def __len__(self) -> int:
        return len(self._values)

    def mask(self, text: str) -> str:
        pattern = self._pattern  # read once: ``add`` swaps in a new pattern, never mutates one
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def mask_value(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string masked (outputs, log extras)."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):  # keys too: a script may return {secret: 1}
            return {self.mask(k) if isinstance(k, str) else k: self.mask_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask_value(v) for v in value]
        return value


def encoded_forms(value: str) -> set[str]:
    """``value`` and how it looks once encoded: JSON-escaped (as a JSON log line holds it; Powertools
    escapes non-ASCII, others don't), URL-encoded, hex, and base64 (standard and URL-safe alphabets).

    Base64 of a longer text that contains the value depends on where the value starts modulo 3 bytes, so
    each of the three alignments contributes the characters that only the value's own bits determine:
    ``base64(anything + secret + anything)`` still shows one of them and is masked.
    """
    raw = value.encode("utf-8")
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
             quote(value, safe=""), quote_plus(value), raw.hex(), raw.hex().upper()}
    whole = base64.b64encode(raw).decode("ascii")  # the value encoded alone, padding and all
    forms |= {whole, whole.replace("+", "-").replace("/", "_")}
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + raw).decode("ascii")
        core = encoded[-(-8 * shift // 6) or 0: (8 * (shift + len(raw))) // 6]
        if len(core) >= _MIN_BASE64_CORE:
            forms |= {core, core.replace("+", "-").replace("/", "_")}
    return forms


_default_masker = Masker()


def get_masker() -> Masker:
    """The process-wide masker: every secret the process resolved, for logs and ``ctx.mask``."""
    return _default_masker


def install_log_masking(logger: Any, masker: Masker | None = None) -> None:
    """Mask every line ``logger``'s handlers write. Accepts a Powertools ``Logger`` or a ``logging.Logger``.

    The formatter's ``format`` is wrapped in place (not replaced) because Powertools reaches its
    formatter through the handler for ``append_keys`` and friends, and a wrapper object would break
    that. Installing twice is harmless.
    """
    masker = _default_masker if masker is None else masker  # an empty Masker is falsy (__len__)
    if isinstance(logger, logging.Logger):
        handlers = list(logger.handlers)
    else:  # Powertools Logger: its one handler sits on the underlying standard logger
        handlers = [logger.registered_handler] if logger.registered_handler is not None else []
    for handler in handlers:
        if handler.formatter is None:
            handler.setFormatter(logging.Formatter())
        formatter = handler.formatter
        assert formatter is not None
        if getattr(formatter, "_orchestrator_masker", None) is masker:
            continue
        inner = formatter.format

        def masked_format(record: logging.LogRecord, _inner: Any = inner) -> str:
            return masker.mask(_inner(record))

        formatter.format = masked_format  # type: ignore[method-assign]
        formatter._orchestrator_masker = masker  # type: ignore[attr-defined]
