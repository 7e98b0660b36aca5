"""Credentials out of every message: ``scrub`` and ``redact``, and header values checked before
they are sent (requests echoes a rejected header value, key and all, in its error).

Secrets come only from environment variables (STYLE G20). What counts as one: the values of
headers and query parameters whose names look secret (``SECRET_NAME``: key, token, secret,
signature, passphrase, password, auth, credential), the values of key-like environment variables
(``LEVERCAST_*_KEY``/``TOKEN``/``SECRET``/``PASSWORD``, ``MLFLOW_TRACKING_PASSWORD``/``TOKEN``,
``*_API_KEY``), URL userinfo and ``Bearer``/``Basic`` tokens. A value shorter than four
characters is not scrubbed word by word (it would blank ordinary words out of messages).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from urllib.parse import quote, quote_plus

from levercast.features.errors import ConfigError

__all__ = ["SECRET_NAME", "checked_headers", "one_line", "redact", "scrub"]

SECRET_NAME: Final = re.compile(
    r"(key|token|secret|signature|passphrase|password|auth|credential)", re.I
)
_MIN_SECRET_CHARS: Final = 4
_SECRET_ENV: Final = re.compile(
    r"^(LEVERCAST|MLFLOW)_\w*(KEY|TOKEN|SECRET|PASSWORD|PASSPHRASE)\w*$|_API_KEY$", re.I
)
_USERINFO: Final = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/?#@'\"]+@")
_SCHEME_TOKEN: Final = re.compile(
    r"\b(?P<scheme>bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{4,}", re.I
)
_SECRET_PAIR: Final = re.compile(
    r"(?P<name>[\w.-]*(?:key|token|secret|signature|passphrase|password|auth|credential)[\w.-]*)"
    r"(?P<sep>['\"]?\s*[=:]\s*['\"]?)(?P<value>[^\s&'\",;)}\]*][^\s&'\",;)}\]]*)",
    re.I,
)
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]+")


def redact(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Copy of ``params`` with secret-looking values replaced by ``***``."""
    return {k: ("***" if SECRET_NAME.search(str(k)) else v) for k, v in (params or {}).items()}


def _variants(secret: str) -> set[str]:
    """The forms in which ``secret`` can show up in a message (any bytes included)."""
    forms = {secret, secret.strip(), repr(secret)[1:-1], json.dumps(secret)[1:-1]}
    encoders: list[Callable[[], str]] = [
        lambda: repr(secret.encode("utf-8", "surrogateescape"))[2:-1],
        lambda: quote(secret, safe="", errors="surrogateescape"),
        lambda: quote_plus(secret, safe="", errors="surrogateescape"),
    ]
    for encode in encoders:
        try:
            forms.add(encode())
        except UnicodeEncodeError:  # a lone surrogate that no byte encodes: the raw form stays
            continue
    forms |= set(_CONTROL.split(secret)) | set(secret.split())  # line by line, word by word
    return {form for form in forms if len(form) >= _MIN_SECRET_CHARS}


def _env_secrets() -> list[str]:
    return [v for k, v in os.environ.items() if _SECRET_ENV.search(k) and v.strip()]


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials replaced by ``***``.

    Removes the given ``secrets`` and the values of key-like environment variables
    (``LEVERCAST_*_KEY``, ``MLFLOW_TRACKING_PASSWORD``/``TOKEN``, ``*_API_KEY``) in every form
    (raw, escaped, URL-quoted, each line or word of a multi-line value), URL userinfo
    (``https://user:pass@host``), ``Bearer``/``Basic`` tokens and the values of secret-looking
    ``name=value`` / ``name: value`` pairs.
    """
    forms: set[str] = set()
    for secret in [*secrets, *_env_secrets()]:
        forms |= _variants(str(secret))
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    text = _SCHEME_TOKEN.sub(r"\g<scheme> ***", text)
    return _SECRET_PAIR.sub(r"\g<name>\g<sep>***", text)


def one_line(text: str, limit: int = 300) -> str:
    line = _CONTROL.sub(" ", text).strip()
    return line if len(line) <= limit else line[: limit - 3] + "..."


def checked_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Headers as sent; a value requests would reject (echoing it in its error) is refused here."""
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        shown = f"header {name!r}"
        if not isinstance(value, str):
            raise ConfigError(f"{shown} must be a string; found {type(value).__name__}")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ConfigError(
                f"{shown} must hold Latin-1 characters only; found other characters "
                f"(value not shown: check the variable it comes from)"
            ) from None
        if _CONTROL.search(value) or value != value.strip():
            raise ConfigError(
                f"{shown} must be one line without surrounding spaces; found newlines, control "
                f"characters or spaces in its {len(value)} characters (value not shown: check "
                f"the variable it comes from)"
            )
        out[name] = value
    return out
