"""The ASL interpreter: runs Step Functions state machines (JSONPath and JSONata) locally.

See docs/architecture.md for the contract; ``load_state_machine`` validates and compiles a definition,
``Interpreter`` runs it with Step Functions' semantics, history and error names.
"""

from orchestrator.asl.callbacks import InvalidOutput, TaskDoesNotExist
from orchestrator.asl.clock import Clock, FakeClock, SystemClock
from orchestrator.asl.definition import load_state_machine
from orchestrator.asl.errors import AslDefinitionError, StatesError
from orchestrator.asl.interpreter import (
    ExecutionAlreadyExists,
    ExecutionDoesNotExist,
    ExecutionHandle,
    ExecutionInputError,
    ExecutionResult,
    Interpreter,
)
from orchestrator.asl.model import StateMachine

__all__ = [
    "AslDefinitionError",
    "Clock",
    "ExecutionAlreadyExists",
    "ExecutionDoesNotExist",
    "ExecutionHandle",
    "ExecutionInputError",
    "ExecutionResult",
    "FakeClock",
    "Interpreter",
    "InvalidOutput",
    "StateMachine",
    "StatesError",
    "SystemClock",
    "TaskDoesNotExist",
    "load_state_machine",
]
