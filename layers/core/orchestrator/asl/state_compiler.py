"""Validates and compiles each state of a graph (both query languages), collecting every problem."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from orchestrator.asl.child_executions import RESOURCES as START_EXECUTION_RESOURCES
from orchestrator.asl.choice import compile_rule
from orchestrator.asl.dataflow import JsonPathFlow
from orchestrator.asl.graph import JSONATA, JSONPATH, check_graph_structure
from orchestrator.asl.jsonata_compiler import JsonataCompiler
from orchestrator.asl.jsonata_eval import is_jsonata_expression
from orchestrator.asl.lambda_invoke import INVOKE_PARAMETERS, LAMBDA_INVOKE, LAMBDA_INVOKE_CALLBACK
from orchestrator.asl.model import StateGraph
from orchestrator.asl.paths import (
    VARIABLE_NAME,
    Reference,
    ResultPath,
    compile_reference_or_report,
    compile_result_path_or_report,
)
from orchestrator.asl.payload import Template, compile_dynamic_value, compile_template
from orchestrator.asl.retry import Catcher, Retrier, compile_retrier, validate_error_equals
from orchestrator.asl.states.choice_state import ChoiceRule, ChoiceState
from orchestrator.asl.states.map_state import CountSetting, MapState
from orchestrator.asl.states.parallel_state import ParallelState
from orchestrator.asl.states.pass_state import NO_RESULT, PassState
from orchestrator.asl.states.task_state import FUNCTION, INVOKE, INVOKE_CALLBACK, Duration, TaskState
from orchestrator.asl.states.terminal_states import FailState, SucceedState
from orchestrator.asl.states.wait_state import MAX_WAIT_SECONDS, WaitState
from orchestrator.asl.timestamps import parse_timestamp

MAX_TASK_SECONDS = 99_999_999
_LAMBDA_FUNCTION_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?"
)

_COMMON = {"Type", "Comment", "QueryLanguage"}
_JSONPATH_FIELDS: dict[str, set[str]] = {
    "Pass": {"Next", "End", "InputPath", "OutputPath", "Parameters", "ResultPath", "Result", "Assign"},
    "Task": {
        "Next", "End", "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch",
        "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Assign",
    },
    "Choice": {"Choices", "Default", "InputPath", "OutputPath", "Assign"},
    "Wait": {"Next", "End", "InputPath", "OutputPath", "Seconds", "SecondsPath", "Timestamp", "TimestampPath", "Assign"},
    "Succeed": {"InputPath", "OutputPath"},
    "Fail": {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": {
        "Next", "End", "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch",
        "Branches", "Assign",
    },
    "Map": {
        "Next", "End", "InputPath", "OutputPath", "ItemsPath", "ItemSelector", "Parameters", "ResultSelector",
        "ResultPath", "Retry", "Catch", "ItemProcessor", "Iterator", "MaxConcurrency", "MaxConcurrencyPath",
        "ToleratedFailureCount", "ToleratedFailureCountPath", "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath", "Assign",
    },
}
_JSONATA_FIELDS: dict[str, set[str]] = {
    "Pass": {"Next", "End", "Output", "Assign"},
    "Task": {"Next", "End", "Arguments", "Output", "Assign", "Retry", "Catch", "Resource", "TimeoutSeconds", "HeartbeatSeconds"},
    "Choice": {"Choices", "Default", "Output", "Assign"},
    "Wait": {"Next", "End", "Seconds", "Timestamp", "Output", "Assign"},
    "Succeed": {"Output"},
    "Fail": {"Error", "Cause"},
    "Parallel": {"Next", "End", "Arguments", "Output", "Assign", "Retry", "Catch", "Branches"},
    "Map": {
        "Next", "End", "Items", "ItemSelector", "ItemProcessor", "MaxConcurrency", "ToleratedFailureCount",
        "ToleratedFailurePercentage", "Output", "Assign", "Retry", "Catch",
    },
}
# Fields that exist in ASL but need features this interpreter does not have: a load-time error, never a
# silently different run.
_UNSUPPORTED: dict[str, str] = {
    "ItemReader": "Distributed Map (ItemReader) is not supported by the local interpreter",
    "ResultWriter": "Distributed Map (ResultWriter) is not supported by the local interpreter",
    "ItemBatcher": "Distributed Map (ItemBatcher) is not supported by the local interpreter",
    "Label": "Distributed Map (Label) is not supported by the local interpreter",
    "Credentials": "cross-account task Credentials are not supported by the local interpreter",
}


class StateCompiler:
    def __init__(self, problems: list[str], *, region: str) -> None:
        self.problems = problems
        self.region = region
        self._jsonata = JsonataCompiler(self)

    def problem(self, message: str) -> None:
        self.problems.append(message)

    # -- graphs ---------------------------------------------------------------------------------------------

    def graph(self, raw: Any, location: str, query_language: str) -> StateGraph | None:
        if not isinstance(raw, dict):
            self.problem(f"{location}: must be an object with StartAt and States")
            return None
        structure = check_graph_structure(raw, location, self.problems)
        if structure is None:
            return None
        start_at, raw_states = structure
        prefix = f"{location}." if location else ""
        graph = StateGraph(start_at=start_at)
        for name, raw_state in raw_states.items():
            if isinstance(raw_state, dict):
                state = self.state(name, raw_state, f"{prefix}States.{name}", query_language)
                if state is not None:
                    graph.states[name] = state
        return graph

    # -- one state ------------------------------------------------------------------------------------------

    def state(self, name: str, raw: dict[str, Any], location: str, default_language: str) -> Any:
        state_type = raw.get("Type")
        if state_type not in _JSONPATH_FIELDS:
            self.problem(f"{location}.Type: unknown state type {state_type!r}")
            return None
        language = raw.get("QueryLanguage", default_language)
        if language not in (JSONPATH, JSONATA):
            self.problem(f"{location}.QueryLanguage: must be JSONPath or JSONata, not {language!r}")
            return None
        if default_language == JSONATA and language == JSONPATH and "QueryLanguage" in raw:
            self.problem(f"{location}.QueryLanguage: a JSONata state machine cannot have JSONPath states")
        allowed = _COMMON | (_JSONPATH_FIELDS if language == JSONPATH else _JSONATA_FIELDS)[state_type]
        for key in raw:
            if key in _UNSUPPORTED:
                self.problem(f"{location}.{key}: {_UNSUPPORTED[key]}")
            elif key not in allowed:
                other = _JSONATA_FIELDS if language == JSONPATH else _JSONPATH_FIELDS
                if key in other[state_type]:
                    self.problem(f"{location}.{key}: not allowed in a {language} state")
                else:
                    self.problem(f"{location}.{key}: unknown field for a {state_type} state")
        next_state = self._next_or_end(raw, location, state_type)
        if language == JSONATA:
            return self.jsonata_state(name, raw, location, state_type, next_state)
        flow = self.jsonpath_flow(raw, location, state_type)
        return getattr(self, f"_jsonpath_{state_type.lower()}")(name, raw, location, next_state, flow)

    def _next_or_end(self, raw: dict[str, Any], location: str, state_type: str) -> str | None:
        if state_type in ("Choice", "Succeed", "Fail"):
            return None
        has_next = "Next" in raw
        end = raw.get("End")
        if end is not None and end is not True:
            self.problem(f"{location}.End: must be true when present")
        if has_next and end:
            self.problem(f"{location}: has both Next and End")
        elif not has_next and not end:
            self.problem(f"{location}: needs Next or End")
        return raw.get("Next") if has_next else None

    # -- JSONPath data flow ------------------------------------------------------------------------------------

    def jsonpath_flow(self, raw: dict[str, Any], location: str, state_type: str) -> JsonPathFlow:
        input_path, discard_input = self._selection_path(raw, "InputPath", location)
        output_path, discard_output = self._selection_path(raw, "OutputPath", location)
        result_path = None
        discard_result = False
        if "ResultPath" in raw:
            text = raw["ResultPath"]
            if text is None:
                discard_result = True
            else:
                result_path = self._result_path(text, f"{location}.ResultPath")
        # Map's Parameters are its (legacy) ItemSelector: applied per item, not to the state input.
        parameters = None if state_type == "Map" else self._template(raw, "Parameters", location)
        return JsonPathFlow(
            input_path=input_path,
            discard_input=discard_input,
            parameters=parameters,
            result_selector=self._template(raw, "ResultSelector", location),
            result_path=result_path,
            discard_result=discard_result,
            output_path=output_path,
            discard_output=discard_output,
            assign=self._assign_template(raw.get("Assign"), f"{location}.Assign") if "Assign" in raw else None,
        )

    def _selection_path(self, raw: dict[str, Any], key: str, location: str) -> tuple[Reference | None, bool]:
        if key not in raw:
            return None, False
        text = raw[key]
        if text is None:
            return None, True
        reference = self._reference(text, f"{location}.{key}")
        if reference is not None and reference.path.is_root and reference.kind == "input":
            return None, False
        return reference, False

    def _reference(self, text: Any, location: str) -> Reference | None:
        return compile_reference_or_report(text, location, self.problems)

    def _result_path(self, text: Any, location: str) -> ResultPath | None:
        return compile_result_path_or_report(text, location, self.problems)

    def _template(self, raw: dict[str, Any], key: str, location: str) -> Template | None:
        if key not in raw:
            return None
        value = raw[key]
        if not isinstance(value, dict):
            self.problem(f"{location}.{key}: must be an object")
            return None
        return compile_template(value, f"{location}.{key}", self.problems)

    def _assign_template(self, value: Any, location: str) -> Template | None:
        if not isinstance(value, dict):
            self.problem(f"{location}: must be an object mapping variable names to values")
            return None
        for key in value:
            variable = key[:-2] if key.endswith(".$") else key
            if not VARIABLE_NAME.fullmatch(variable) or len(variable) > 80:
                self.problem(f"{location}.{key}: invalid variable name {variable!r}")
        return compile_template(value, location, self.problems)

    def retriers(self, raw: dict[str, Any], location: str) -> tuple[Retrier, ...]:
        entries = raw.get("Retry", [])
        if not isinstance(entries, list):
            self.problem(f"{location}.Retry: must be an array of Retriers")
            return ()
        compiled = [
            compile_retrier(entry, f"{location}.Retry[{i}]", i == len(entries) - 1, self.problems)
            for i, entry in enumerate(entries)
        ]
        return tuple(r for r in compiled if r is not None)

    def catchers(self, raw: dict[str, Any], location: str, language: str) -> tuple[Catcher, ...]:
        entries = raw.get("Catch", [])
        if not isinstance(entries, list):
            self.problem(f"{location}.Catch: must be an array of Catchers")
            return ()
        catchers = []
        for index, entry in enumerate(entries):
            where = f"{location}.Catch[{index}]"
            if not isinstance(entry, dict):
                self.problem(f"{where}: a Catcher must be an object")
                continue
            allowed = {"ErrorEquals", "Next", "Comment", "Assign"} | (
                {"ResultPath"} if language == JSONPATH else {"Output"}
            )
            for key in entry:
                if key not in allowed:
                    self.problem(f"{where}.{key}: unknown field in a Catcher")
            error_equals = validate_error_equals(
                entry.get("ErrorEquals"), f"{where}.ErrorEquals", index == len(entries) - 1, self.problems
            )
            if not isinstance(entry.get("Next"), str):
                self.problem(f"{where}.Next: missing (a Catcher needs a Next state)")
                continue
            if language == JSONPATH:
                result_path = None
                discard = "ResultPath" in entry and entry["ResultPath"] is None
                if "ResultPath" in entry and not discard:
                    result_path = self._result_path(entry["ResultPath"], f"{where}.ResultPath")
                assign = self._assign_template(entry["Assign"], f"{where}.Assign") if "Assign" in entry else None
                catchers.append(
                    Catcher(error_equals, entry["Next"], result_path=result_path, discard_result=discard, assign=assign)
                )
            else:
                catchers.append(self.jsonata_catcher(entry, where, error_equals))
        return tuple(catchers)

    # -- JSONPath states ----------------------------------------------------------------------------------------

    def _jsonpath_pass(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonPathFlow) -> Any:
        return PassState(name, next_state, flow, raw.get("Result", NO_RESULT))

    def _jsonpath_succeed(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonPathFlow) -> Any:
        return SucceedState(name, None, flow)

    def _jsonpath_fail(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonPathFlow) -> Any:
        error = self._fail_field(raw, "Error", location)
        cause = self._fail_field(raw, "Cause", location)
        return FailState(name, flow, error, cause)

    def _fail_field(self, raw: dict[str, Any], key: str, location: str) -> Any:
        path_key = f"{key}Path"
        if key in raw and path_key in raw:
            self.problem(f"{location}: has both {key} and {path_key}")
        if key in raw:
            if not isinstance(raw[key], str):
                self.problem(f"{location}.{key}: must be a string")
            return raw[key]
        if path_key in raw:
            return compile_dynamic_value(raw[path_key], f"{location}.{path_key}", self.problems)
        return None

    def _jsonpath_choice(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonPathFlow) -> Any:
        return self.choice(name, raw, location, flow, self._jsonpath_choice_rule)

    def _jsonpath_choice_rule(self, rule: Any, location: str, flow: JsonPathFlow) -> ChoiceRule | None:
        condition = compile_rule(rule, location, self.problems, top_level=True)
        if condition is None or not isinstance(rule.get("Next"), str):
            return None
        rule_assign = self._assign_template(rule["Assign"], f"{location}.Assign") if "Assign" in rule else None
        rule_flow = JsonPathFlow(
            input_path=flow.input_path,
            discard_input=flow.discard_input,
            output_path=flow.output_path,
            discard_output=flow.discard_output,
            assign=rule_assign,
        )
        return ChoiceRule(condition, rule["Next"], rule_flow)

    def choice(
        self,
        name: str,
        raw: dict[str, Any],
        location: str,
        flow: Any,
        compile_choice_rule: Callable[[Any, str, Any], ChoiceRule | None],
    ) -> ChoiceState:
        """The Choice state around its rules; ``compile_choice_rule(rule, location, flow)`` compiles one
        rule of the state's language (None when it cannot)."""
        choices = raw.get("Choices")
        if not isinstance(choices, list) or not choices:
            self.problem(f"{location}.Choices: must be a non-empty array of choice rules")
            choices = []
        rules = []
        for index, rule in enumerate(choices):
            compiled = compile_choice_rule(rule, f"{location}.Choices[{index}]", flow)
            if compiled is not None:
                rules.append(compiled)
        default = raw.get("Default")
        if default is not None and not isinstance(default, str):
            self.problem(f"{location}.Default: must be a state name")
            default = None
        return ChoiceState(name, flow, tuple(rules), default)

    def _jsonpath_wait(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonPathFlow) -> Any:
        modes = [key for key in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if key in raw]
        if len(modes) != 1:
            self.problem(f"{location}: needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath")
            return None
        mode = modes[0]
        value = raw[mode]
        if mode == "Seconds":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WAIT_SECONDS:
                self.problem(f"{location}.Seconds: must be an integer from 0 to {MAX_WAIT_SECONDS}")
                return None
            return WaitState(name, next_state, flow, seconds=value)
        if mode == "Timestamp":
            return self.timestamp_wait(name, next_state, flow, value, location)
        reference = self._reference(value, f"{location}.{mode}")
        if reference is None:
            return None
        if mode == "SecondsPath":
            return WaitState(name, next_state, flow, seconds_path=reference)
        return WaitState(name, next_state, flow, timestamp_path=reference)

    def timestamp_wait(self, name: str, next_state: str | None, flow: Any, text: Any, location: str) -> WaitState | None:
        parsed = parse_timestamp(text)
        if parsed is None:
            self.problem(f"{location}.Timestamp: must be an RFC 3339 timestamp such as 2024-01-31T12:00:00Z")
            return None
        return WaitState(name, next_state, flow, timestamp=parsed[0])

    def _jsonpath_task(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonPathFlow) -> Any:
        return self.task(name, raw, location, next_state, flow, JSONPATH)

    def task(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: Any, language: str) -> Any:
        kind, resource = self.resource(raw, location)
        if kind in (INVOKE, INVOKE_CALLBACK):
            self._check_invoke_payload(raw, location, language)
        timeout = self.duration(raw, "TimeoutSeconds", location, jsonata=language == JSONATA)
        heartbeat = self.duration(raw, "HeartbeatSeconds", location, jsonata=language == JSONATA)
        self._check_heartbeat(timeout, heartbeat, location)
        if kind is None:
            return None
        return TaskState(
            name,
            next_state,
            flow,
            kind=kind,
            resource=resource,
            region=self.region,
            timeout=timeout,
            heartbeat=heartbeat,
            retriers=self.retriers(raw, location),
            catchers=self.catchers(raw, location, language),
        )

    def resource(self, raw: dict[str, Any], location: str) -> tuple[str | None, str]:
        resource = raw.get("Resource")
        if not isinstance(resource, str):
            self.problem(f"{location}.Resource: missing or not a string")
            return None, ""
        if resource == LAMBDA_INVOKE:
            return INVOKE, resource
        if resource == LAMBDA_INVOKE_CALLBACK:
            return INVOKE_CALLBACK, resource
        if _LAMBDA_FUNCTION_ARN.fullmatch(resource):
            return FUNCTION, resource
        if resource in START_EXECUTION_RESOURCES:
            return START_EXECUTION_RESOURCES[resource], resource
        if "${" in resource:
            return None, resource  # an unresolved placeholder, already reported by the loader
        if ":activity:" in resource:
            reason = "activities are not supported by the local interpreter"
        elif resource.startswith("arn:aws:states:::lambda:invoke."):
            reason = "only the request-response and .waitForTaskToken patterns of lambda:invoke are supported"
        elif resource.startswith("arn:aws:states:::"):
            reason = "only the Lambda and Step Functions (startExecution) integrations are supported by the local interpreter"
        else:
            reason = "not a Lambda function ARN"
        self.problem(
            f"{location}.Resource: unsupported resource {resource!r}: {reason} (use a Lambda function ARN, "
            f"{LAMBDA_INVOKE} or {LAMBDA_INVOKE_CALLBACK})"
        )
        return None, resource

    def _check_invoke_payload(self, raw: dict[str, Any], location: str, language: str) -> None:
        """lambda:invoke's Parameters (JSONPath, keys may end in ``.$``) or Arguments (JSONata)."""
        if language == JSONPATH:
            key, dynamic_suffix = "Parameters", ".$"
        else:
            key, dynamic_suffix = "Arguments", None
        payload = raw.get(key)
        if language == JSONATA and is_jsonata_expression(payload):
            return  # its keys are known only at run time
        where = f"{location}.{key}"
        if not isinstance(payload, dict):
            self.problem(f"{where}: lambda:invoke needs a FunctionName")
            return
        names = {
            name[: -len(dynamic_suffix)] if dynamic_suffix and name.endswith(dynamic_suffix) else name for name in payload
        }
        if "FunctionName" not in names:
            self.problem(f"{where}.FunctionName: missing (lambda:invoke needs the function to call)")
        for name in sorted(names - INVOKE_PARAMETERS):
            self.problem(f"{where}.{name}: not a parameter of lambda:invoke")

    def duration(self, raw: dict[str, Any], key: str, location: str, *, jsonata: bool) -> Duration | None:
        path_key = f"{key}Path"
        if key in raw and path_key in raw:
            self.problem(f"{location}: has both {key} and {path_key}")
            return None
        if key in raw:
            value = raw[key]
            if jsonata and isinstance(value, str):
                return self.jsonata_duration(value, key, f"{location}.{key}")
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TASK_SECONDS:
                self.problem(f"{location}.{key}: must be an integer from 1 to {MAX_TASK_SECONDS}")
                return None
            return Duration(key, seconds=value)
        if path_key in raw:
            reference = self._reference(raw[path_key], f"{location}.{path_key}")
            return Duration(key, path=reference) if reference is not None else None
        return None

    def _check_heartbeat(self, timeout: Duration | None, heartbeat: Duration | None, location: str) -> None:
        if (
            timeout is not None
            and heartbeat is not None
            and timeout.seconds is not None
            and heartbeat.seconds is not None
            and heartbeat.seconds >= timeout.seconds
        ):
            self.problem(f"{location}.HeartbeatSeconds: must be smaller than TimeoutSeconds")

    def _jsonpath_parallel(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonPathFlow) -> Any:
        return self.parallel(name, raw, location, next_state, flow, JSONPATH)

    def parallel(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: Any, language: str) -> Any:
        return ParallelState(
            name,
            next_state,
            flow,
            branches=self.branches(raw, location, language),
            retriers=self.retriers(raw, location),
            catchers=self.catchers(raw, location, language),
        )

    def branches(self, raw: dict[str, Any], location: str, language: str) -> tuple[StateGraph, ...]:
        branches = raw.get("Branches")
        if not isinstance(branches, list) or not branches:
            self.problem(f"{location}.Branches: must be a non-empty array of state graphs")
            return ()
        compiled = [self.graph(branch, f"{location}.Branches[{i}]", language) for i, branch in enumerate(branches)]
        return tuple(graph for graph in compiled if graph is not None)

    def processor(self, raw: dict[str, Any], location: str, language: str) -> StateGraph | None:
        if "ItemProcessor" in raw and "Iterator" in raw:
            self.problem(f"{location}: has both ItemProcessor and Iterator")
        key = "ItemProcessor" if "ItemProcessor" in raw else "Iterator"
        processor = raw.get(key)
        if not isinstance(processor, dict):
            self.problem(f"{location}.ItemProcessor: missing (a Map needs an ItemProcessor)")
            return None
        config = processor.get("ProcessorConfig")
        if config is not None:
            if not isinstance(config, dict):
                self.problem(f"{location}.{key}.ProcessorConfig: must be an object")
            else:
                mode = config.get("Mode", "INLINE")
                if mode == "DISTRIBUTED":
                    self.problem(f"{location}.{key}.ProcessorConfig.Mode: Distributed Map is not supported by the local interpreter")
                elif mode != "INLINE":
                    self.problem(f"{location}.{key}.ProcessorConfig.Mode: must be INLINE or DISTRIBUTED")
                for config_key in config:
                    if config_key not in ("Mode", "ExecutionType"):
                        self.problem(f"{location}.{key}.ProcessorConfig.{config_key}: unknown field")
        graph_raw = {k: v for k, v in processor.items() if k != "ProcessorConfig"}
        for graph_key in graph_raw:
            if graph_key not in ("StartAt", "States", "Comment"):
                self.problem(f"{location}.{key}.{graph_key}: unknown field")
        return self.graph(graph_raw, f"{location}.{key}", language)

    def count_setting(
        self, raw: dict[str, Any], key: str, location: str, *, allow_fraction: bool = False, upper: float | None = None
    ) -> CountSetting | None:
        path_key = f"{key}Path"
        if key in raw and path_key in raw:
            self.problem(f"{location}: has both {key} and {path_key}")
            return None
        if key in raw:
            value = raw[key]
            valid_number = isinstance(value, int | float) and not isinstance(value, bool)
            if not valid_number or value < 0 or (not allow_fraction and not float(value).is_integer()) or (
                upper is not None and value > upper
            ):
                bound = f"from 0 to {upper:g}" if upper is not None else "of 0 or more"
                self.problem(f"{location}.{key}: must be a {'number' if allow_fraction else 'integer'} {bound}")
                return None
            return CountSetting(key, value=value, allow_fraction=allow_fraction, upper_bound=upper)
        if path_key in raw:
            reference = self._reference(raw[path_key], f"{location}.{path_key}")
            if reference is not None:
                return CountSetting(key, path=reference, allow_fraction=allow_fraction, upper_bound=upper)
        return None

    def _jsonpath_map(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonPathFlow) -> Any:
        processor = self.processor(raw, location, JSONPATH)
        items_path = None
        if "ItemsPath" in raw:
            items_path = self._reference(raw["ItemsPath"], f"{location}.ItemsPath")
            if items_path is not None and items_path.kind == "input" and items_path.path.is_root:
                items_path = None
        if "ItemSelector" in raw and "Parameters" in raw:
            self.problem(f"{location}: has both ItemSelector and Parameters")
        selector_key = "ItemSelector" if "ItemSelector" in raw else "Parameters"
        selector_template = self._template(raw, selector_key, location)
        item_selector = None
        if selector_template is not None:

            def item_selector(frame: Any, selected: Any, template: Template = selector_template) -> Any:
                return template.evaluate(selected, frame)

        return self.map(
            name, raw, location, next_state, flow, JSONPATH, processor,
            items_path=items_path, items_expression=None, item_selector=item_selector, count=self.count_setting,
        )

    def map(
        self,
        name: str,
        raw: dict[str, Any],
        location: str,
        next_state: str | None,
        flow: Any,
        language: str,
        processor: StateGraph | None,
        *,
        items_path: Reference | None,
        items_expression: Any,
        item_selector: Any,
        count: Callable[..., CountSetting | None],
    ) -> Any:
        """The Map state once its language has compiled the items and their selector; count reads that
        language's form of MaxConcurrency and the tolerated failures."""
        if processor is None:
            return None
        return MapState(
            name,
            next_state,
            flow,
            processor=processor,
            items_path=items_path,
            items_expression=items_expression,
            item_selector=item_selector,
            max_concurrency=count(raw, "MaxConcurrency", location),
            tolerated_count=count(raw, "ToleratedFailureCount", location),
            tolerated_percentage=count(raw, "ToleratedFailurePercentage", location, allow_fraction=True, upper=100),
            retriers=self.retriers(raw, location),
            catchers=self.catchers(raw, location, language),
        )

    # -- JSONata (see jsonata_compiler) -------------------------------------------------------------------------

    def jsonata_state(self, name: str, raw: dict[str, Any], location: str, state_type: str, next_state: str | None) -> Any:
        return self._jsonata.state(name, raw, location, state_type, next_state)

    def jsonata_catcher(self, entry: dict[str, Any], location: str, error_equals: tuple[str, ...]) -> Catcher:
        return self._jsonata.catcher(entry, location, error_equals)

    def jsonata_duration(self, value: str, key: str, location: str) -> Duration | None:
        if not is_jsonata_expression(value):
            self.problem(f"{location}: must be an integer from 1 to {MAX_TASK_SECONDS} or a JSONata expression")
            return None
        expression = self._jsonata.value(value, key, location.rsplit(".", 1)[0])
        return Duration(key, expression=expression) if expression is not None else None
