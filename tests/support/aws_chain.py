"""The whole AWS deployment of template.yaml, in-process, on moto: the harness of tests/e2e/aws.

``AwsChain`` creates what the template declares (the SQS TaskQueue, HighPriorityQueue and their DLQ with
redrive, the blob bucket, the IAM roles, every Lambda function and the WorkflowStateMachine from the real
``statemachines/workflow.asl.json`` with its DefinitionSubstitutions filled with the functions' ARNs),
and plugs the real ``functions/<name>/app.py`` handlers in behind moto's Lambda functions. moto runs the
state machine (``execute_state_machine``); the Lambda tasks it invokes reach our handlers through
``support.moto_lambda`` — the one place that patches moto's private ``LambdaFunction._invoke_lambda``,
which is why moto is pinned (5.2.5) in pyproject.toml.

What moto cannot route is done here, as AWS would, from what moto holds:

- SQS -> SchedulerFunction: ``pump_queues`` receives the queues' messages and invokes the function with
  the SQS event an event source mapping delivers, deleting only what the function did not report failed;
- Step Functions "Execution Status Change" -> ExecutionEventsFunction: ``report_status_change`` builds
  the EventBridge event from DescribeExecution;
- EventBridge Scheduler and rules -> TriggerFunction: ``schedule_payload`` and ``rule_payload`` read the
  schedule's ``Input`` / the rule's input template that the ApiFunction armed, and fill in what the
  service would (``<aws.scheduler.scheduled-time>``, ``<aws.events.event.json>``).

Each function runs with the environment template.yaml gives it (Globals + its own Variables, every
``!Ref`` / ``!GetAtt`` / ``!Sub`` resolved to the moto resources). All functions share this process, so
an invocation of another function than the last one is a cold start: the environment is swapped, the
process's cached wiring (settings, store, clients, ports) is forgotten and the handler module is loaded
afresh; consecutive invocations of one function are warm, as in Lambda. The store is MongoDB on
mongomock (``ORCHESTRATOR_MONGODB_URI`` names a host that does not exist; ``MongoClient`` is mongomock's).
mongomock works in one thread only while moto runs state machines on threads of its own: one re-entrant
lock serialises every handler invocation (``chain.lock`` also guards a test's own store reads).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import boto3
import mongomock
import yaml
from moto.events.models import EventPattern

from orchestrator.composition.reset import forget_process_wiring
from support.moto_lambda import MotoStepFunctions, zip_package

PROJECT = Path(__file__).resolve().parents[2]
TEMPLATE = PROJECT / "template.yaml"
EVENTS = PROJECT / "events"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
STAGE = "dev"
#: the API's bootstrap admin key (ORCHESTRATOR_ADMIN_KEY, given to the ApiFunction only)
ADMIN_KEY = "ork_e2e_admin_0123456789abcdef0123456789abcdef"
#: environment variables of the test process that a Lambda function would not have
_PROCESS_ONLY = ("ORCHESTRATOR_", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE",
                 "AWS_PROFILE", "MONGODB_URI")
#: the stack's parameters besides their defaults
_PARAMETERS = {"Stage": STAGE, "MongoDbUriSecret": f"/orchestrator/{STAGE}/mongodb-uri"}
_PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::StackName": "orchestrator"}
_TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
_NO_VALUE = object()  # AWS::NoValue
#: functions that open no store (template.yaml: ORCHESTRATOR_STORE=memory) and read no setting
_STORELESS = frozenset({"ScriptRunnerFunction"})


# -- template.yaml -------------------------------------------------------------------------------------------

class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation short-form tags as their long form: ``!Ref X`` -> ``{"Ref": "X"}``,
    ``!GetAtt A.B`` -> ``{"Fn::GetAtt": ["A", "B"]}``, ``!Sub s`` -> ``{"Fn::Sub": s}`` ..."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader


def sample_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


# -- one function ---------------------------------------------------------------------------------------------

@dataclass
class Function:
    logical_id: str
    name: str
    code_dir: Path
    env: dict[str, str]
    memory_mb: int
    timeout_seconds: int
    arn: str = ""
    #: keyword arguments every invocation passes to the handler (the ScriptRunner's ``reap``)
    handler_kwargs: dict[str, Any] = field(default_factory=dict)
    module: ModuleType | None = None
    invocations: int = 0
    cold_starts: int = 0

    def load(self) -> ModuleType:
        """A fresh import of functions/<name>/app.py, as a new Lambda container would make."""
        module_name = f"aws_chain_functions.{self.code_dir.name}_{uuid.uuid4().hex[:8]}"
        spec = importlib.util.spec_from_file_location(module_name, self.code_dir / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        self.module = module
        return module




# -- the deployment -------------------------------------------------------------------------------------------

class AwsChain:
    """template.yaml deployed on moto, its handlers in-process. Use as a context manager.

    ``env_overrides``: per function logical id, variables to set on top of the template's (a deployment
    parameter such as a lower ORCHESTRATOR_BLOB_THRESHOLD_BYTES).
    """

    def __init__(self, env_overrides: dict[str, dict[str, str]] | None = None) -> None:
        self.template = load_template()
        self.env_overrides = env_overrides or {}
        parameters = self.template.get("Parameters", {})
        self.parameters: dict[str, Any] = {name: spec.get("Default") for name, spec in parameters.items()}
        self.parameters.update({k: v for k, v in _PARAMETERS.items() if k in parameters})
        for name, spec in parameters.items():
            if spec.get("Type") == "CommaDelimitedList":
                self.parameters[name] = str(self.parameters[name] or "").split(",")
        #: values of the secrets the stack generates (the admin key: ApiFunction's ORCHESTRATOR_ADMIN_KEY_SECRET_ID)
        self.secret_values = {"AdminKeySecret": ADMIN_KEY}
        self.reaped = 0
        self.lock = threading.RLock()
        self.functions: dict[str, Function] = {}
        self.physical: dict[str, dict[str, str]] = {}  # logical id -> {"Ref": ..., "Arn": ..., ...}
        self.database = f"orchestrator_e2e_{uuid.uuid4().hex[:12]}"
        self.mongodb_uri = f"mongodb://mongo.e2e.invalid:27017/{self.database}"
        # the one "server": every function's MongoClient reaches it (mongomock's own clients each hold one)
        self._mongo = mongomock.MongoClient(self.mongodb_uri, tz_aware=True)
        #: (function logical id, predicate(event), callback(event)): run before a matching invocation, once
        self._hooks: list[tuple[str, Callable[[Any], bool], Callable[[Any], None]]] = []
        self._stack = ExitStack()
        self._warm: Function | None = None
        self._running: list[Function] = []  # the invocations in progress, innermost last
        self._base_env: dict[str, str] = {}
        self._saved_env: dict[str, str] = {}
        self._registered_steps: dict[str, Any] = {}
        self.moto: MotoStepFunctions | None = None

    # -- set-up ----------------------------------------------------------------------------------------------

    def __enter__(self) -> AwsChain:
        from orchestrator.steps import registry

        self._saved_env = dict(os.environ)
        self._registered_steps = dict(registry._registered)
        os.environ.update({"AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                           "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true"})
        self._base_env = {k: v for k, v in os.environ.items() if not k.startswith(_PROCESS_ONLY)}
        try:
            self._stack.enter_context(mock.patch("orchestrator.adapters.mongo.store.MongoClient", self._mongo_client))
            self.moto = self._stack.enter_context(MotoStepFunctions(region=REGION))
            self._create_resources()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        from orchestrator.steps import registry

        try:
            self.stop_running_executions()
            with self.lock:
                forget_process_wiring()
                self._mongo.drop_database(self.database)
        finally:
            self._stack.close()
            os.environ.clear()
            os.environ.update(self._saved_env)
            registry._registered.clear()
            registry._registered.update(self._registered_steps)
            forget_process_wiring()

    def _create_resources(self) -> None:
        resources = {lid: r for lid, r in self.template["Resources"].items()
                     if "Condition" not in r or self.condition(r["Condition"])}
        iam, sqs, s3, ssm, secretsmanager = (boto3.client(s, region_name=REGION)
                                             for s in ("iam", "sqs", "s3", "ssm", "secretsmanager"))
        # the store's URI is an operator's SecureString parameter, named by the MongoDbUriSecret parameter
        ssm.put_parameter(Name=self.parameters["MongoDbUriSecret"], Value=self.mongodb_uri, Type="SecureString")
        for logical_id, resource in resources.items():
            kind, props = resource["Type"], resource.get("Properties", {})
            if kind == "AWS::IAM::Role":
                role = iam.create_role(RoleName=f"orchestrator-{STAGE}-{logical_id}",
                                       AssumeRolePolicyDocument=json.dumps(self.resolve(props["AssumeRolePolicyDocument"])))
                self.physical[logical_id] = {"Ref": role["Role"]["RoleName"], "Arn": role["Role"]["Arn"]}
            elif kind == "AWS::S3::Bucket":
                name = f"orchestrator-{STAGE}-{logical_id.lower()}-{uuid.uuid4().hex[:8]}"
                s3.create_bucket(Bucket=name)
                self.physical[logical_id] = {"Ref": name, "Arn": f"arn:aws:s3:::{name}"}
            elif kind == "AWS::SecretsManager::Secret":
                # GenerateSecretString: the harness picks the value, so that a test can use it (the admin key)
                value = self.secret_values.get(logical_id) or uuid.uuid4().hex
                arn = secretsmanager.create_secret(Name=f"orchestrator-{STAGE}-{logical_id}", SecretString=value)["ARN"]
                self.physical[logical_id] = {"Ref": arn}
        # the dead-letter queues first: the others name them in their redrive policy
        queues = sorted((lid for lid, r in resources.items() if r["Type"] == "AWS::SQS::Queue"),
                        key=lambda lid: "RedrivePolicy" in resources[lid]["Properties"])
        for logical_id in queues:
            props = resources[logical_id]["Properties"]
            attributes = {"VisibilityTimeout": str(props.get("VisibilityTimeout", 30)),
                          "MessageRetentionPeriod": str(props.get("MessageRetentionPeriod", 345600))}
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(self.resolve(props["RedrivePolicy"]))
            name = f"orchestrator-{STAGE}-{logical_id}"
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.physical[logical_id] = {"Ref": url, "Arn": arn, "QueueName": name}
        # functions and state machines: names and ARNs first (environments refer to one another)
        globals_ = self.template["Globals"]["Function"]
        for logical_id, resource in resources.items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::Serverless::Function":
                # without FunctionName, CloudFormation makes one up from the stack and the logical id
                name = self.resolve(props.get("FunctionName", f"orchestrator-{STAGE}-{logical_id}"))
                self.physical[logical_id] = {"Ref": name,
                                             "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"}
                self.functions[logical_id] = Function(
                    logical_id, name, PROJECT / props["CodeUri"], {},
                    memory_mb=int(props.get("MemorySize", globals_["MemorySize"])),
                    timeout_seconds=int(props.get("Timeout", globals_["Timeout"])))
            elif resource["Type"] == "AWS::Serverless::StateMachine":
                name = self.resolve(props.get("Name", f"orchestrator-{STAGE}-{logical_id}"))
                self.physical[logical_id] = {"Ref": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}",
                                             "Name": name}
        assert self.moto is not None
        for function in self.functions.values():
            props = resources[function.logical_id]["Properties"]
            env = {**globals_["Environment"]["Variables"], **props.get("Environment", {}).get("Variables", {})}
            function.env = {k: str(self.resolve(v)) for k, v in env.items()}
            function.env.update(self.env_overrides.get(function.logical_id, {}))
            role = self.resolve(props["Role"]) if "Role" in props else self.moto.role_arn
            created = self.moto.lambda_client.create_function(
                FunctionName=function.name, Runtime=globals_["Runtime"], Role=role, Handler=props["Handler"],
                Code={"ZipFile": zip_package()}, Timeout=function.timeout_seconds, MemorySize=function.memory_mb,
                Architectures=self.resolve(globals_["Architectures"]), Environment={"Variables": function.env})
            function.arn = created["FunctionArn"]
            self.moto.handlers[function.name] = self._runtime(function)
        # the ScriptRunner's handler kills every other process of its container after a script; here the
        # container is the test run, so that part is left out (and counted)
        self.functions["ScriptRunnerFunction"].handler_kwargs["reap"] = self._count_reap
        for logical_id, resource in resources.items():
            if resource["Type"] != "AWS::Serverless::StateMachine":
                continue
            props = resource["Properties"]
            definition = (PROJECT / props["DefinitionUri"]).read_text(encoding="utf-8")
            for name, value in props.get("DefinitionSubstitutions", {}).items():
                definition = definition.replace("${" + name + "}", str(self.resolve(value)))
            arn = self.moto.create_state_machine(self.physical[logical_id]["Name"], definition)
            assert arn == self.physical[logical_id]["Ref"], arn

    def _mongo_client(self, uri: str, **kwargs: Any) -> mongomock.MongoClient:
        """MongoStore.from_uri's MongoClient: the chain's server, for the URI the functions were given."""
        assert uri == self.mongodb_uri, uri
        assert kwargs.get("tz_aware") is True, kwargs
        return self._mongo  # closing it is a no-op: every function keeps reaching the same data

    def _count_reap(self) -> int:
        self.reaped += 1
        return 0

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def resolve(self, value: Any) -> Any:
        """A template value with its intrinsic functions resolved against the moto resources."""
        if isinstance(value, list):
            resolved = [self.resolve(v) for v in value]
            return [v for v in resolved if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not _NO_VALUE}
        [(function, argument)] = value.items()
        if function == "Ref":
            if argument == "AWS::NoValue":
                return _NO_VALUE
            if argument in self.parameters:
                return self.parameters[argument]
            if argument in _PSEUDO:
                return _PSEUDO[argument]
            return self.physical[argument]["Ref"]
        if function == "Fn::GetAtt":
            logical_id, attribute = argument
            return self.physical[logical_id][attribute]
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            return self._substitute(text, {k: str(self.resolve(v)) for k, v in variables.items()})
        if function == "Fn::If":
            name, then, otherwise = argument
            return self.resolve(then if self.condition(name) else otherwise)
        if function == "Fn::Equals":
            left, right = self.resolve(argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self.resolve(argument[0])
        if function == "Fn::And":
            return all(self.resolve(a) for a in argument)
        if function == "Fn::Or":
            return any(self.resolve(a) for a in argument)
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(str(v) for v in self.resolve(items))
        if function == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(separator)
        if function == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(index)]
        if function == "Condition":
            return self.condition(argument)
        return {function: self.resolve(argument)}

    def _substitute(self, text: str, variables: dict[str, str]) -> str:
        out, rest = [], text
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            out.append(before)
            if name in variables:
                out.append(variables[name])
            elif "." in name:
                logical_id, attribute = name.split(".", 1)
                out.append(self.physical[logical_id][attribute])
            else:
                out.append(str(self.resolve({"Ref": name})))
        return "".join(out) + rest

    # -- invoking functions ----------------------------------------------------------------------------------

    def _runtime(self, function: Function) -> Callable[[Any, Any], Any]:
        if function.logical_id in _STORELESS:
            return self._storeless_runtime(function)

        def invoke(event: Any, context: Any) -> Any:
            with self.lock:
                for hook in list(self._hooks):
                    target, predicate, callback = hook
                    if target == function.logical_id and predicate(event):
                        self._hooks.remove(hook)
                        callback(event)
                self._activate(function)
                function.invocations += 1
                self._running.append(function)
                try:
                    assert function.module is not None
                    return function.module.lambda_handler(event, context, **function.handler_kwargs)
                finally:
                    self._running.pop()
                    if self._running and self._running[-1] is not function:
                        # a nested invocation (a hook's API call): back to the caller's process
                        self._activate(self._running[-1], reload=False)
        return invoke

    def _storeless_runtime(self, function: Function) -> Callable[[Any, Any], Any]:
        """The ScriptRunner: invoked by the StepRunner from the thread that runs the step (so not under
        the lock the StepRunner holds), it opens no store and reads no setting (``run_here`` gives the
        script PATH, HOME, LANG and the request's env only), so it runs as it is called, without swapping
        the process's environment under the StepRunner."""
        assert function.env.get("ORCHESTRATOR_STORE") == "memory", function.env  # template.yaml says so
        module = function.load()
        function.cold_starts += 1

        def invoke(event: Any, context: Any) -> Any:
            function.invocations += 1
            return module.lambda_handler(event, context, **function.handler_kwargs)
        return invoke

    def _activate(self, function: Function, *, reload: bool = True) -> None:
        if self._warm is function:
            return
        from orchestrator.steps import registry
        from orchestrator.steps.script import ScriptExecutor

        os.environ.clear()
        os.environ.update(self._base_env)
        os.environ.update(function.env)
        forget_process_wiring()
        # the script executor is a process singleton that picks the ScriptRunner once: a new one per container
        registry.register(ScriptExecutor())
        if reload or function.module is None:
            function.load()
            function.cold_starts += 1
        self._warm = function

    def before(self, logical_id: str, predicate: Callable[[Any], bool], callback: Callable[[Any], None]) -> None:
        """Run ``callback(event)`` just before the first invocation of ``logical_id`` whose event matches."""
        self._hooks.append((logical_id, predicate, callback))

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Invoke a function through moto's Lambda Invoke API (``sam local invoke -e``); its parsed result.
        A function error raises ``FunctionError`` with Lambda's error payload."""
        assert self.moto is not None
        response = self.moto.lambda_client.invoke(FunctionName=self.functions[logical_id].name,
                                                  Payload=json.dumps(event).encode())
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            raise FunctionError(payload)
        return payload

    # -- the API ---------------------------------------------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None, *, key: str = ADMIN_KEY,
            query: dict[str, str] | None = None) -> ApiResponse:
        """One request to the ApiFunction, as API Gateway's HTTP API (stage ``dev``) sends it."""
        event = http_api_event(method, path, body, key=key, query=query)
        response = self.invoke("ApiFunction", event)
        text = response.get("body") or ""
        return ApiResponse(response["statusCode"], json.loads(text) if text else None, response)

    # -- what the event source mapping, EventBridge and Scheduler would do ----------------------------------

    def queue_url(self, logical_id: str) -> str:
        return self.physical[logical_id]["Ref"]

    def pump_queues(self) -> int:
        """Deliver what waits in the HighPriorityQueue and the TaskQueue to the SchedulerFunction (batches of
        up to 10, as its event source mappings), deleting the records it did not report failed. Returns
        how many records were delivered."""
        sqs = boto3.client("sqs", region_name=REGION)
        delivered = 0
        for logical_id in ("HighPriorityQueue", "TaskQueue"):
            url, arn = self.physical[logical_id]["Ref"], self.physical[logical_id]["Arn"]
            while True:
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                               MessageAttributeNames=["All"]).get("Messages", [])
                if not messages:
                    break
                delivered += len(messages)
                result = self.invoke("SchedulerFunction", sqs_event(messages, arn))
                failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
                for message in messages:
                    if message["MessageId"] not in failed:
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                if failed:
                    break  # they come back after the visibility timeout, not now
        return delivered

    def machine_execution_arn(self, execution_id: str) -> str:
        machine = self.physical["WorkflowStateMachine"]["Ref"]
        return machine.replace(":stateMachine:", ":execution:") + f":{execution_id}"

    def describe(self, execution_id: str) -> dict[str, Any]:
        assert self.moto is not None
        return self.moto.sfn.describe_execution(executionArn=self.machine_execution_arn(execution_id))

    def wait_for_machine(self, execution_id: str, *, timeout: float = 60.0,
                         until: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Poll DescribeExecution until the state machine ends (or ``until()`` holds); the description."""
        deadline = time.monotonic() + timeout
        while True:
            described = self.describe(execution_id)
            if described["status"] in _TERMINAL:
                return described
            if until is not None:
                with self.lock:
                    if until():
                        return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"state machine of {execution_id} still {described['status']} after {timeout} s")
            time.sleep(0.01)

    def report_status_change(self, execution_id: str) -> Any:
        """The "Step Functions Execution Status Change" event of the execution's end, to the
        ExecutionEventsFunction (its EventBridge rule's target)."""
        return self.invoke("ExecutionEventsFunction", status_change_event(self.describe(execution_id)))

    def run_to_end(self, execution_id: str, *, timeout: float = 60.0) -> dict[str, Any]:
        """Queue -> SchedulerFunction -> Step Functions -> ... -> ExecutionEventsFunction; the machine's end."""
        self.pump_queues()
        described = self.wait_for_machine(execution_id, timeout=timeout)
        self.report_status_change(execution_id)
        return described

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        assert self.moto is not None
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self.moto.sfn.get_execution_history(executionArn=self.machine_execution_arn(execution_id),
                                                       maxResults=1000, **kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs = {"nextToken": page["nextToken"]}

    def schedule_payload(self, trigger_id: str, scheduled_time: str) -> dict[str, Any]:
        """What EventBridge Scheduler sends the TriggerFunction for one slot of the trigger's schedule."""
        scheduler = boto3.client("scheduler", region_name=REGION)
        prefix = self.functions["ApiFunction"].env["ORCHESTRATOR_SCHEDULE_NAME_PREFIX"]
        schedule = scheduler.get_schedule(Name=f"{prefix}{trigger_id}")
        assert schedule["Target"]["Arn"] == self.physical["TriggerFunction"]["Arn"], schedule["Target"]
        text = schedule["Target"]["Input"].replace("<aws.scheduler.scheduled-time>", scheduled_time)
        return json.loads(text)

    def rule_payload(self, trigger_id: str, event: dict[str, Any]) -> dict[str, Any]:
        """What the trigger's EventBridge rule sends the TriggerFunction for ``event`` (which must match)."""
        events = boto3.client("events", region_name=REGION)
        prefix = self.functions["ApiFunction"].env["ORCHESTRATOR_SCHEDULE_NAME_PREFIX"]
        rule = events.describe_rule(Name=f"{prefix}{trigger_id}")
        # moto does not implement TestEventPattern; its rules match with EventPattern, as PutEvents does
        assert EventPattern.load(rule["EventPattern"]).matches_event(event), (rule["EventPattern"], event)
        [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        assert target["Arn"] == self.physical["TriggerFunction"]["Arn"], target
        template = target["InputTransformer"]["InputTemplate"]
        return json.loads(template.replace("<aws.events.event.json>", json.dumps(event)))

    def stop_running_executions(self) -> None:
        if self.moto is None:
            return
        sfn = self.moto.sfn
        for machine in sfn.list_state_machines()["stateMachines"]:
            for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"],
                                                 statusFilter="RUNNING")["executions"]:
                sfn.stop_execution(executionArn=execution["executionArn"])

    def invocation_counts(self) -> Counter[str]:
        return Counter({f.logical_id: f.invocations for f in self.functions.values()})


class FunctionError(Exception):
    def __init__(self, payload: Any) -> None:
        super().__init__(json.dumps(payload)[:2000])
        self.payload = payload


@dataclass
class ApiResponse:
    status: int
    body: Any
    raw: dict[str, Any]


# -- event shapes ----------------------------------------------------------------------------------------------

def http_api_event(method: str, path: str, body: Any = None, *, key: str | None = ADMIN_KEY,
                   query: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event for ``/dev<path>``, shaped as events/api_list_workflows_event.json."""
    event = sample_event("api_list_workflows_event.json")
    raw_path = f"/{STAGE}{path}"
    query = query or {}
    event.update(rawPath=raw_path, rawQueryString="&".join(f"{k}={v}" for k, v in query.items()),
                 queryStringParameters=query or None, pathParameters={"proxy": raw_path.removeprefix(f"/{STAGE}/")})
    event["requestContext"]["http"].update(method=method, path=raw_path)
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    headers = dict(event["headers"])
    headers.pop("authorization", None)
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    if body is not None:
        event["body"] = json.dumps(body)
        headers["content-type"] = "application/json"
    event["headers"] = headers
    return event


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event an SQS event source mapping gives Lambda for received ``messages``."""
    records = []
    for message in messages:
        records.append({
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {"stringValue": attr.get("StringValue"), "stringListValues": [], "binaryListValues": [],
                       "dataType": attr["DataType"]}
                for name, attr in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": REGION,
        })
    return {"Records": records}


def _millis(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def status_change_event(described: dict[str, Any]) -> dict[str, Any]:
    """EventBridge's "Step Functions Execution Status Change" event for a DescribeExecution answer."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [described["executionArn"]],
        "detail": {
            "executionArn": described["executionArn"],
            "stateMachineArn": described["stateMachineArn"],
            "name": described["name"],
            "status": described["status"],
            "startDate": _millis(described.get("startDate")),
            "stopDate": _millis(described.get("stopDate")),
            "input": described.get("input"),
            "output": described.get("output"),
            "error": described.get("error"),
            "cause": described.get("cause"),
        },
    }


def eventbridge_event(source: str, detail_type: str, detail: dict[str, Any], *, event_id: str | None = None
                      ) -> dict[str, Any]:
    """An event as EventBridge delivers it to a rule's target."""
    return {"version": "0", "id": event_id or str(uuid.uuid4()), "detail-type": detail_type, "source": source,
            "account": ACCOUNT, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": REGION,
            "resources": [], "detail": detail}


# -- cost model ----------------------------------------------------------------------------------------------

def state_transitions(history: list[dict[str, Any]]) -> int:
    """Billed state transitions: every state entered (Step Functions Standard bills each state's entry,
    including the states inside Map iterations)."""
    return sum(1 for event in history if event["type"].endswith("StateEntered"))


def history_types(history: list[dict[str, Any]]) -> Counter[str]:
    return Counter(event["type"] for event in history)


def iter_step_ids(detail: dict[str, Any]) -> Iterator[str]:
    for step in detail.get("steps", []):
        yield step["step_id"]


# -- what the tests do through the API --------------------------------------------------------------------------

def deploy(chain: AwsChain, definition: dict[str, Any], *, activate: bool = True) -> str:
    """POST /api/v1/workflows (and activate it); the workflow's id."""
    created = chain.api("POST", "/api/v1/workflows", {"definition": definition})
    assert created.status == 201, created.body
    if activate:
        activated = chain.api("POST", f"/api/v1/workflows/{created.body['id']}/activate")
        assert activated.status == 200, activated.body
    return str(created.body["id"])


def execute(chain: AwsChain, workflow_id: str, input: Any = None, *, priority: int = 0) -> str:
    """POST /api/v1/workflows/{id}/execute: queued, announced on SQS; the execution's id."""
    response = chain.api("POST", f"/api/v1/workflows/{workflow_id}/execute", {"input": input or {}, "priority": priority})
    assert response.status == 202, response.body
    assert response.body["status"] == "queued"
    return str(response.body["id"])


def execution(chain: AwsChain, execution_id: str) -> dict[str, Any]:
    """GET /api/v1/executions/{id}."""
    response = chain.api("GET", f"/api/v1/executions/{execution_id}")
    assert response.status == 200, response.body
    return dict(response.body)


def steps_by_id(detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["step_id"]: step for step in detail["steps"]}
