"""The process's own configuration secrets: the admin API key and the MongoDB URI.

Where the settings name a secret (``ORCHESTRATOR_ADMIN_KEY_SECRET_ID``, ``ORCHESTRATOR_MONGODB_URI_SECRET_ID``:
the deployed stack) the value is read from AWS (``adapters/aws/config_secrets.py``), at cold start, and kept
for ``config_secret_max_age_seconds``; otherwise it is the plain setting (``ORCHESTRATOR_ADMIN_KEY``,
``ORCHESTRATOR_MONGODB_URI``: the local engine, which never imports boto3 for this). Every value read from
a secret is registered with the process masker: a log line that happened to hold it prints ``***``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from orchestrator.masking import get_masker
from orchestrator.settings import Settings

if TYPE_CHECKING:
    from orchestrator.adapters.aws.config_secrets import ConfigSecrets

ADMIN_KEY_VARIABLE = "ORCHESTRATOR_ADMIN_KEY_SECRET_ID"
MONGODB_URI_VARIABLE = "ORCHESTRATOR_MONGODB_URI_SECRET_ID"

#: one reader per process (per max_age and region): its cache and clients serve every caller
_readers: dict[tuple[float, str | None], ConfigSecrets] = {}
_readers_lock = threading.Lock()


def admin_key_source(settings: Settings) -> str | Callable[[], str] | None:
    """What the API accepts as the configured admin key: the plain setting, or a function that returns the
    secret's current value (cached; a rotated key is picked up within ``config_secret_max_age_seconds``).
    The secret is read once here, so that a missing or unreadable one fails the cold start, naming it."""
    if not settings.admin_key_secret_id:
        return settings.admin_api_key
    from orchestrator.adapters.aws.config_secrets import SecretReference

    reference = SecretReference(ADMIN_KEY_VARIABLE, settings.admin_key_secret_id)
    reader = _reader(settings)
    masker = get_masker()
    registered: list[str] = []

    def current_admin_key() -> str:
        value = reader.get(reference)
        if not registered or registered[-1] is not value:  # the cache hands out the same str until it changes
            masker.add(value)
            registered[:] = [value]
        return value

    current_admin_key()
    return current_admin_key


def mongodb_uri(settings: Settings) -> str | None:
    """The MongoDB URI: ``ORCHESTRATOR_MONGODB_URI``, or the value of the secret that
    ``ORCHESTRATOR_MONGODB_URI_SECRET_ID`` names (the URI itself, or a JSON object with a ``uri`` key)."""
    if settings.mongodb_uri_secret_id:
        from orchestrator.adapters.aws.config_secrets import SecretReference

        reference = SecretReference(MONGODB_URI_VARIABLE, settings.mongodb_uri_secret_id)
        uri: str | None = _reader(settings).get(reference, json_key="uri")
    else:
        uri = settings.mongodb_uri
    if uri:
        mask_mongodb_uri(uri)
    return uri


def mask_mongodb_uri(uri: str) -> None:
    """Registers the URI and its password (also URL-decoded) with the process masker."""
    masker = get_masker()
    masker.add(uri)
    try:
        password = urlsplit(uri).password
    except ValueError:  # not parseable as a URL: the whole URI is masked, which is what can be done
        return
    if password:
        masker.add(password)
        masker.add(unquote(password))


def forget_config_secrets() -> None:
    """Drop the readers and their cached values (tests; a process that changed its settings)."""
    with _readers_lock:
        _readers.clear()


def _reader(settings: Settings) -> ConfigSecrets:
    from orchestrator.adapters.aws.config_secrets import ConfigSecrets

    key = (float(settings.config_secret_max_age_seconds), settings.aws_region)
    with _readers_lock:
        reader = _readers.get(key)
        if reader is None:
            reader = _readers[key] = ConfigSecrets(settings.config_secret_max_age_seconds, region=settings.aws_region)
        return reader
