"""The compiled form of a state machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StateGraph:
    """The states of the machine, of one Parallel branch, or of a Map's ItemProcessor."""

    start_at: str
    states: dict[str, Any] = field(default_factory=dict)


@dataclass
class StateMachine:
    name: str
    arn: str
    region: str
    account: str
    definition: dict[str, Any]
    definition_hash: str
    graph: StateGraph
    query_language: str
    timeout_seconds: int | None

    def execution_arn(self, name: str) -> str:
        """The ARN Step Functions gives this machine's execution named ``name``."""
        return f"arn:aws:states:{self.region}:{self.account}:execution:{self.name}:{name}"
