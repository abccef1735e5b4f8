"""Secret values never reach a tool result: every string of a result is scrubbed of the
values of the variables the notebook uses as credentials (connection auth `${VAR}`s, the
prompt key variable) and of any environment variable named like a credential (the same
name rule that blanks secrets in notebook.toml)."""

from __future__ import annotations

import os
import re
from typing import Any

from strata_engine.model.manifest import Manifest

# The name rule of model/saving.py's blank_secrets (KEY, SECRET, TOKEN, PASSWORD, CREDENTIAL).
from strata_engine.model.saving import _SECRET_NAME

REDACTED = "[redacted]"
_MIN_SECRET = 8
"""Shorter values ("1", "true") would redact ordinary text and protect nothing."""
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def secret_values(manifests: list[Manifest]) -> list[str]:
    """The values to scrub, longest first (so a secret containing another goes whole)."""
    names = {name for name in os.environ if _SECRET_NAME.search(name)}
    names.add("OPENAI_API_KEY")
    for manifest in manifests:
        for connection in manifest.connections.values():
            for reference in connection.auth.values():
                names.update(_REFERENCE.findall(reference))
        key_env = manifest.ai_settings.api_key_env
        if key_env:
            names.add(key_env)
    values = {os.environ.get(name, "") for name in names}
    return sorted((v for v in values if len(v) >= _MIN_SECRET), key=len, reverse=True)


def scrub(value: Any, secrets: list[str]) -> Any:
    """A copy of a JSON-able value with every secret replaced by a marker."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, secrets) for v in value]
    return value
