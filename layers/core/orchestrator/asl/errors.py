"""Errors of the ASL interpreter: definition problems (load time) and States errors (run time)."""

from __future__ import annotations

from collections.abc import Iterable

# Error names that Step Functions defines (https://states-language.net/spec.html#appendix-a and the
# Step Functions developer guide).
STATES_ALL = "States.ALL"
STATES_TASK_FAILED = "States.TaskFailed"
STATES_TIMEOUT = "States.Timeout"
STATES_HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
STATES_RUNTIME = "States.Runtime"
STATES_DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
STATES_NO_CHOICE_MATCHED = "States.NoChoiceMatched"
STATES_RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
STATES_PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
STATES_INTRINSIC_FAILURE = "States.IntrinsicFailure"
STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
STATES_BRANCH_FAILED = "States.BranchFailed"
STATES_PERMISSIONS = "States.Permissions"
STATES_QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"

KNOWN_STATES_ERRORS = frozenset(
    {
        STATES_ALL,
        STATES_TASK_FAILED,
        STATES_TIMEOUT,
        STATES_HEARTBEAT_TIMEOUT,
        STATES_RUNTIME,
        STATES_DATA_LIMIT_EXCEEDED,
        STATES_NO_CHOICE_MATCHED,
        STATES_RESULT_PATH_MATCH_FAILURE,
        STATES_PARAMETER_PATH_FAILURE,
        STATES_INTRINSIC_FAILURE,
        STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD,
        STATES_BRANCH_FAILED,
        STATES_PERMISSIONS,
        STATES_QUERY_EVALUATION_ERROR,
        "States.ItemReaderFailed",
        "States.ResultWriterFailed",
        "States.Http.Socket",
    }
)

# Failures that end the execution whatever the state's Retry and Catch say (States.ALL never matches
# them, and AWS does not retry or catch them even when named).
EXECUTION_ENDING_ERRORS = frozenset({STATES_RUNTIME})
# Errors a wildcard (States.ALL / States.TaskFailed) never matches; they can only be named explicitly.
NOT_MATCHED_BY_WILDCARDS = frozenset({STATES_RUNTIME, STATES_DATA_LIMIT_EXCEEDED})
# Errors whose cause AWS prefixes with the failing state and the id of its entered event.
DECORATED_ERRORS = frozenset({STATES_RUNTIME, STATES_QUERY_EVALUATION_ERROR})


class AslDefinitionError(ValueError):
    """The state machine definition is invalid or uses something this interpreter does not support.

    ``problems`` lists every problem found, each prefixed by its location, e.g.
    ``States.Fetch.Next: unknown state 'Foo'``.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        heading = f"invalid state machine definition ({count} problem{'s' if count != 1 else ''}):"
        super().__init__("\n  ".join([heading, *self.problems]))


class StatesError(Exception):
    """A failure inside an execution: the error name and cause that Retry/Catch and the history see.

    ``from_task`` marks failures reported by a Task's work (function errors, timeouts), which is what the
    States.TaskFailed wildcard matches. ``state_name``/``entered_event_id`` locate the failure for the
    decorated causes of States.Runtime and States.QueryEvaluationError.
    """

    def __init__(
        self,
        error: str | None,
        cause: str | None = None,
        *,
        from_task: bool = False,
        state_name: str | None = None,
        entered_event_id: int | None = None,
    ) -> None:
        super().__init__(f"{error}: {cause}" if cause else str(error))
        self.error = error
        self.cause = cause
        self.from_task = from_task
        self.state_name = state_name
        self.entered_event_id = entered_event_id

    @property
    def ends_execution(self) -> bool:
        return self.error in EXECUTION_ENDING_ERRORS

    def located(self, state_name: str, entered_event_id: int) -> StatesError:
        """Attach the failing state (first location wins: inner states are more precise)."""
        if self.state_name is None:
            self.state_name = state_name
            self.entered_event_id = entered_event_id
        return self

    def error_output(self) -> dict[str, str]:
        """The {"Error", "Cause"} object a Catcher passes on (missing fields become empty strings)."""
        return {"Error": self.error or "", "Cause": self.cause or ""}

    def execution_cause(self) -> str | None:
        """The cause as the ExecutionFailed event reports it."""
        if self.cause and self.error in DECORATED_ERRORS and self.state_name is not None:
            return (
                f"An error occurred while executing the state '{self.state_name}' "
                f"(entered at the event id #{self.entered_event_id}). {self.cause}"
            )
        return self.cause


def runtime_error(cause: str) -> StatesError:
    return StatesError(STATES_RUNTIME, cause)


def query_evaluation_error(cause: str) -> StatesError:
    return StatesError(STATES_QUERY_EVALUATION_ERROR, cause)


def error_matches(pattern: str, error: StatesError) -> bool:
    """Whether one ErrorEquals entry matches an error."""
    name = error.error
    if pattern == STATES_ALL:
        return name not in NOT_MATCHED_BY_WILDCARDS
    if pattern == STATES_TASK_FAILED:
        return (
            error.from_task
            and name not in NOT_MATCHED_BY_WILDCARDS
            and name not in (STATES_TIMEOUT, STATES_HEARTBEAT_TIMEOUT)
        )
    if pattern == STATES_TIMEOUT and name == STATES_HEARTBEAT_TIMEOUT:
        # A missed heartbeat is a kind of timeout: ASL's States.Timeout covers both.
        return True
    return pattern == name
