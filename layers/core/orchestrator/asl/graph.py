"""Structure of a state graph: transition targets, unknown targets and unreachable states."""

from __future__ import annotations

from typing import Any

JSONPATH = "JSONPath"
JSONATA = "JSONata"
QUERY_LANGUAGES = (JSONPATH, JSONATA)
MAX_STATE_NAME_LENGTH = 80


def graph_transitions(raw_state: dict[str, Any]) -> list[str]:
    """The names a state can transition to (Next, Default, Choices[].Next, Catch[].Next)."""
    targets: list[str] = []
    for key in ("Next", "Default"):
        if isinstance(raw_state.get(key), str):
            targets.append(raw_state[key])
    for list_key in ("Choices", "Catch"):
        entries = raw_state.get(list_key)
        if isinstance(entries, list):
            targets.extend(e["Next"] for e in entries if isinstance(e, dict) and isinstance(e.get("Next"), str))
    return targets


def check_graph_structure(raw: dict[str, Any], location: str, problems: list[str]) -> tuple[str, dict[str, Any]] | None:
    """StartAt, States, unknown transition targets and unreachable states of one graph.

    Returns (StartAt, States) so the states can be compiled (and their own problems reported), or None
    when there are no states at all.
    """
    prefix = f"{location}." if location else ""
    states = raw.get("States")
    start_at = raw.get("StartAt")
    if not isinstance(states, dict) or not states:
        problems.append(f"{prefix}States: missing or empty (a state machine needs at least one state)")
        return None
    start_is_valid = isinstance(start_at, str) and start_at in states
    if not isinstance(start_at, str):
        problems.append(f"{prefix}StartAt: missing or not a string")
    elif start_at not in states:
        problems.append(f"{prefix}StartAt: unknown state {start_at!r}")
    for name, state in states.items():
        if len(name) > MAX_STATE_NAME_LENGTH:
            problems.append(f"{prefix}States.{name}: state names are limited to {MAX_STATE_NAME_LENGTH} characters")
        if not isinstance(state, dict):
            problems.append(f"{prefix}States.{name}: must be an object")
            continue
        for key in ("Next", "Default"):
            target = state.get(key)
            if target is not None and (not isinstance(target, str) or target not in states):
                problems.append(f"{prefix}States.{name}.{key}: unknown state {target!r}")
        for list_key in ("Choices", "Catch"):
            entries = state.get(list_key)
            if isinstance(entries, list):
                for index, entry in enumerate(entries):
                    target = entry.get("Next") if isinstance(entry, dict) else None
                    if target is not None and (not isinstance(target, str) or target not in states):
                        problems.append(f"{prefix}States.{name}.{list_key}[{index}].Next: unknown state {target!r}")
    if not start_is_valid:
        return str(start_at), states  # reachability means nothing without a valid StartAt
    reachable = {start_at}
    pending = [start_at]
    while pending:
        current = states.get(pending.pop())
        if not isinstance(current, dict):
            continue
        for target in graph_transitions(current):
            if target in states and target not in reachable:
                reachable.add(target)
                pending.append(target)
    for name in states:
        if name not in reachable:
            problems.append(f"{prefix}States.{name}: state is not reachable from StartAt")
    return start_at, states
