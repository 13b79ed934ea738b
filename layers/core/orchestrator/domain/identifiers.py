"""Text that names things (workflow and step names, tags, owner ids, trigger names and paths) is text.

A NUL character (``\\x00``) or a lone UTF-16 surrogate in a name is never what a person meant: C strings
end at the first, no UTF-8 encoder writes the second, and either makes a name that looks like another.
``Identifier`` (a ``str`` for pydantic models) refuses both; the API answers such a problem with 400
(``is_text_problem`` tells it apart from other validation problems).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from orchestrator.domain.strict_json import has_lone_surrogate

NUL_PROBLEM = "must not contain NUL characters (\\x00)"
SURROGATE_PROBLEM = "must not contain lone UTF-16 surrogates (\\ud800-\\udfff)"


def check_identifier_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError(NUL_PROBLEM)
    if has_lone_surrogate(value):
        raise ValueError(SURROGATE_PROBLEM)
    return value


def is_text_problem(message: str) -> bool:
    """Whether a validation message is one of this module's (a malformed request rather than an invalid one)."""
    return NUL_PROBLEM in message or SURROGATE_PROBLEM in message


#: a str that holds no NUL and no lone surrogate
Identifier = Annotated[str, AfterValidator(check_identifier_text)]
