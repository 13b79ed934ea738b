"""Loading a state machine: parse, validate everything (reporting every problem with its location), compile.

    machine = load_state_machine(definition)          # dict or JSON text
    # AslDefinitionError: invalid state machine definition (2 problems):
    #   States.Fetch.Next: unknown state 'Foo'
    #   States.Orphan: state is not reachable from StartAt

Anything this interpreter does not support (Distributed Map, activities, non-Lambda integrations, ...)
is a load-time problem too: a definition never runs differently here than on AWS.
"""

from __future__ import annotations

import json
import re
from typing import Any

from orchestrator.asl.checkpoints import definition_hash
from orchestrator.asl.errors import AslDefinitionError
from orchestrator.asl.graph import JSONPATH, QUERY_LANGUAGES
from orchestrator.asl.model import StateMachine
from orchestrator.asl.state_compiler import StateCompiler

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"
MAX_EXECUTION_TIMEOUT_SECONDS = 31_536_000  # one year, the Standard workflow limit
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")
_TOP_LEVEL_FIELDS = frozenset({"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"})


def load_state_machine(
    definition: dict[str, Any] | str,
    *,
    name: str = "StateMachine",
    arn: str | None = None,
    substitutions: dict[str, str] | None = None,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
) -> StateMachine:
    """Validate and compile an ASL definition (raises AslDefinitionError listing every problem).

    ``substitutions`` replaces ``${Name}`` placeholders, as SAM's DefinitionSubstitutions do.
    """
    problems: list[str] = []
    if isinstance(definition, str | bytes):
        try:
            definition = json.loads(definition)
        except ValueError as invalid:
            raise AslDefinitionError([f"definition: not valid JSON: {invalid}"]) from None
    if not isinstance(definition, dict):
        raise AslDefinitionError(["definition: must be a JSON object"])
    if substitutions is not None:
        definition = _substitute(definition, substitutions)
    _find_placeholders(definition, "", problems)

    for key in definition:
        if key not in _TOP_LEVEL_FIELDS:
            problems.append(f"{key}: unknown top-level field")
    query_language = definition.get("QueryLanguage", JSONPATH)
    if query_language not in QUERY_LANGUAGES:
        problems.append(f"QueryLanguage: must be JSONPath or JSONata, not {query_language!r}")
        query_language = JSONPATH
    timeout = definition.get("TimeoutSeconds")
    if timeout is not None and (
        not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= MAX_EXECUTION_TIMEOUT_SECONDS
    ):
        problems.append(f"TimeoutSeconds: must be an integer from 1 to {MAX_EXECUTION_TIMEOUT_SECONDS}")
        timeout = None
    version = definition.get("Version")
    if version is not None and version != "1.0":
        problems.append(f"Version: only \"1.0\" is defined, not {version!r}")
    compiler = StateCompiler(problems, region=region)
    graph = compiler.graph(definition, "", query_language)
    if problems or graph is None:
        raise AslDefinitionError(problems or ["definition: invalid"])
    machine_arn = arn or f"arn:aws:states:{region}:{account}:stateMachine:{name}"
    return StateMachine(
        name=name,
        arn=machine_arn,
        region=region,
        account=account,
        definition=definition,
        definition_hash=definition_hash(definition),
        graph=graph,
        query_language=query_language,
        timeout_seconds=timeout,
    )


def _substitute(value: Any, substitutions: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: str(substitutions.get(m.group(1), m.group(0))), value)
    if isinstance(value, dict):
        return {key: _substitute(item, substitutions) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, substitutions) for item in value]
    return value


def _find_placeholders(value: Any, location: str, problems: list[str]) -> None:
    """Report ``${Name}`` left in Resource fields: the definition needs its DefinitionSubstitutions."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{location}.{key}" if location else key
            if key == "Resource" and isinstance(item, str) and _PLACEHOLDER.search(item):
                problems.append(f"{where}: unresolved placeholder {item!r} (pass substitutions=...)")
            else:
                _find_placeholders(item, where, problems)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _find_placeholders(item, f"{location}[{index}]", problems)
