"""The `orchestrator` command: validate, plan, run workflows and raw ASL files on the local engine."""

from __future__ import annotations

import json
import os
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(name="orchestrator", help="Workflows on AWS Step Functions, and the same on this machine.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
asl_app = typer.Typer(help="Run raw Amazon States Language files on the local interpreter.", no_args_is_help=True)
app.add_typer(asl_app, name="asl")


def _add_secrets_commands() -> None:
    from orchestrator.cli.secrets import secrets_app

    app.add_typer(secrets_app, name="secrets")


_add_secrets_commands()


@cache
def _console(*, stderr: bool) -> Console:
    # made on first use: importing rich costs ~20 ms, and `asl run` answers with plain JSON
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=True)


def _out() -> Console:
    return _console(stderr=False)


def _err() -> Console:
    return _console(stderr=True)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


InputOption = Annotated[str | None, typer.Option("--input", "-i", help="JSON text, or @file with JSON")]


def _quiet_powertools() -> None:
    # The local engine runs the Lambda handlers in-process: their metrics have no CloudWatch to go to.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    from orchestrator.observability import logger

    logger.setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"))


def _load(file: Path) -> Any:
    from orchestrator.services.workflow_loader import WorkflowValidationError, load_workflow

    try:
        return load_workflow(file)
    except WorkflowValidationError as exc:
        _err().print(f"[bold red]{file}: {len(exc.problems)} problem(s)[/]")
        _err().print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    except OSError as exc:
        _err().print(f"[bold red]{file}: cannot read: {exc.strerror}[/]")
        raise typer.Exit(2) from None


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="workflow files (YAML or JSON)")]) -> None:
    """Check workflow files; every problem is reported with its location."""
    failed = 0
    for file in files:
        try:
            definition = _load(file)
        except typer.Exit:
            failed += 1
            continue
        _out().print(f"[green]{file}: ok[/] ({definition.name}, {sum(1 for _ in definition.iter_steps())} steps)")
    if failed:
        raise typer.Exit(2)


@app.command()
def plan(
    file: Path,
    mermaid: Annotated[bool, typer.Option("--mermaid", help="print a Mermaid flowchart")] = False,
) -> None:
    """Show the parallel groups the workflow runs in."""
    from orchestrator.domain import planner

    definition = _load(file)
    if mermaid:
        _out().print(planner.mermaid(definition), markup=False, highlight=False)
        return
    for index, group in enumerate(planner.plan(definition), start=1):
        steps = ", ".join(f"{step.id} ({step.type})" for step in group)
        _out().print(f"group {index}: {steps}", markup=False, highlight=False)


@app.command()
def run(
    file: Annotated[Path | None, typer.Argument(help="the workflow file (not with --resume)")] = None,
    input: InputOption = None,
    var: Annotated[list[str] | None, typer.Option("--var", help="override a variable: name=value")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the step outputs as JSON")] = False,
    resume: Annotated[str | None, typer.Option(
        "--resume", metavar="EXECUTION_ID", help="continue a run that was killed; its succeeded steps do not run again",
    )] = None,
) -> None:
    """Run a workflow locally, with a live view of its steps. Exit code 0 on success, 1 on failure.

    Runs are durable (SQLite under ORCHESTRATOR_HOME, default ./.orchestrator): a killed run continues with
    `orchestrator run --resume EXECUTION_ID`. Its steps may reach this machine's loopback and private network
    (unlike `serve`); set ORCHESTRATOR_EGRESS_ALLOW_PRIVATE=false to refuse them."""
    _quiet_powertools()  # first: the Tracer is built off (POWERTOOLS_TRACE_DISABLED) when the engine is imported
    import uuid

    from orchestrator.cli.inputs import parse_json_argument, parse_variables
    from orchestrator.cli.live_view import LiveStepView
    from orchestrator.composition.local_engine import UnknownRun
    from orchestrator.composition.local_run import local_engine

    if (file is None) == (resume is None):
        _err().print("[bold red]give a workflow file, or --resume EXECUTION_ID[/] (not both)")
        raise typer.Exit(2)
    engine = local_engine()
    if resume is not None:
        if input is not None or var:
            _err().print("[bold red]--resume continues a run with its own input and variables[/]: "
                         "drop --input and --var")
            raise typer.Exit(2)
        try:
            definition = engine.definition_of(resume)
        except LookupError:
            _err().print(f"[bold red]no run {resume!r} to resume[/] in {engine.location}", markup=True)
            raise typer.Exit(2) from None
        execution_id = resume
    else:
        assert file is not None
        definition = _load(file)
        execution_input = parse_json_argument(input, option="--input")
        variables = parse_variables(var or [])
        execution_id = uuid.uuid4().hex
        _warn_if_unsandboxed(definition)
    _err().print(f"execution {execution_id}" + ("" if engine.location == "memory" else
                 f" (if it is interrupted: orchestrator run --resume {execution_id})"), markup=False, highlight=False)
    try:
        with LiveStepView(definition, _err()) as view:
            if resume is not None:
                for step_id, record in engine.step_records(execution_id).items():
                    view.on_step(step_id, record.get("status", "unknown"), record)
                result = engine.resume(execution_id, on_step=view.on_step)
            else:
                assert file is not None
                result = engine.run(definition, execution_input, execution_id=execution_id, variables=variables,
                                    workflow_dir=file.resolve().parent, on_step=view.on_step)
    except UnknownRun as unknown:
        _err().print(f"[bold red]{unknown}[/]")
        raise typer.Exit(2) from None
    _err().print()
    if as_json:
        print(json.dumps(result.outputs(), indent=2, default=str, ensure_ascii=False))
    if result.succeeded:
        _err().print(f"[bold green]{definition.name}: succeeded[/] (execution {result.execution_id})")
        return
    _err().print(f"[bold red]{definition.name}: {result.status.lower()}[/] (execution {result.execution_id})")
    _err().print(f"error: {result.error}\ncause: {result.cause}", markup=False, highlight=False)
    raise typer.Exit(1)


def _warn_if_unsandboxed(definition: Any) -> None:
    if '"script"' not in json.dumps(definition.model_dump(mode="json")):
        return
    from orchestrator.settings import get_settings
    from orchestrator.steps.sandbox import describe

    if not (line := describe(get_settings())).startswith("script sandbox: bubblewrap"):  # runs unsandboxed
        _err().print(f"warning: {line}", markup=False, highlight=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="interface to listen on (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8100)")] = None,
) -> None:
    """Run the API, the worker pool and the schedule ticker on SQLite under ./.orchestrator/."""
    _quiet_powertools()
    from orchestrator.composition.server import HomeInUse, LocalServer
    from orchestrator.settings import get_settings

    overrides = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
    settings = get_settings().model_copy(update=overrides)
    if settings.store == "memory":
        # the API and the engine are two processes: a memory store would be two stores
        _err().print("[bold red]ORCHESTRATOR_STORE=memory cannot serve[/]: the API and the engine run in two "
                     "processes and must share the store; use sqlite (the default) or mongo")
        raise typer.Exit(2)
    try:
        server = LocalServer(settings)
    except HomeInUse as in_use:
        print(f"orchestrator serve: {in_use}", file=sys.stderr, flush=True)  # one line, never wrapped
        raise typer.Exit(2) from None
    try:
        sock = server.bind()
    except OSError as exc:
        _err().print(f"[bold red]cannot listen on {settings.host}:{settings.port}[/]: {exc.strerror or exc} "
                     "(another server there? choose one with --port)")
        raise typer.Exit(2) from None
    server.start()
    base = f"http://{settings.host}:{settings.port}"
    _err().print(f"[bold green]orchestrator serving[/] on {base}  (docs: {base}/docs, store: {settings.home.resolve()})")
    from orchestrator.steps.sandbox import describe

    _err().print(describe(settings), markup=False, highlight=False)  # which sandbox scripts run in
    if server.generated_admin_key:
        _err().print("[bold]admin API key[/] (shown once; set ORCHESTRATOR_ADMIN_KEY to choose your own):")
        print(server.generated_admin_key, flush=True)
    _err().print(f"try: curl -H 'Authorization: Bearer <key>' {base}/api/v1/workflows    Ctrl-C stops")
    server.serve_forever(sock)


@app.command(hidden=True)
def engine() -> None:
    """The engine process of `orchestrator serve` (started by it; reads its link secret on stdin)."""
    _quiet_powertools()
    from orchestrator.composition.engine_process import EngineProcess
    from orchestrator.settings import get_settings

    secret = bytes.fromhex(sys.stdin.readline().strip())
    EngineProcess(get_settings(), secret).run()


@app.command()
def deploy(
    file: Annotated[Path, typer.Argument(help="workflow file (YAML or JSON); script files are inlined")],
    activate: Annotated[bool, typer.Option("--activate", help="activate it, so that it runs and its triggers fire")] = False,
    url: Annotated[str, typer.Option(envvar="ORCHESTRATOR_URL", help="the API's base URL")] = "http://127.0.0.1:8100",
    key: Annotated[str | None, typer.Option(envvar=["ORCHESTRATOR_API_KEY", "ORCHESTRATOR_ADMIN_KEY"],
                                            help="API key (default: $ORCHESTRATOR_API_KEY)")] = None,
) -> None:
    """Create a workflow on a running orchestrator (`orchestrator serve`, or the cloud API); prints its id."""
    from orchestrator.cli.api_client import CliError
    from orchestrator.cli.deploy import ApiClient, DeployError, bundle

    if not key:
        _err().print("[bold red]no API key[/]: pass --key or set ORCHESTRATOR_API_KEY (serve prints the admin key)")
        raise typer.Exit(2)
    try:
        body = bundle(_load(file), file.parent)
    except DeployError as exc:
        _err().print(f"[bold red]{file}:[/] {_escape(str(exc))}")
        raise typer.Exit(2) from None
    client = ApiClient(url, key)
    try:
        workflow = client.create_workflow(body)
        if activate:
            workflow = client.activate(workflow["id"])
    except CliError as exc:
        _err().print(f"[bold red]{file}:[/] {_escape(str(exc))}")
        raise typer.Exit(1) from None
    _err().print(f"[green]{workflow['name']}[/] version {workflow['current_version']}, {workflow['status']}")
    print(workflow["id"], flush=True)


@app.command()
def schema() -> None:
    """Print the JSON Schema of workflow files (for editors)."""
    from orchestrator.domain.schema import workflow_json_schema

    print(json.dumps(workflow_json_schema(), indent=2, ensure_ascii=False))


@asl_app.command("run")
def asl_run(definition: Path, input: InputOption = None) -> None:
    """Run an ASL file. Prints the output JSON, or the error and cause (exit code 1)."""
    _quiet_powertools()  # first, as in `run`
    from orchestrator.asl import AslDefinitionError, load_state_machine
    from orchestrator.cli.inputs import parse_json_argument
    from orchestrator.composition.local_run import local_interpreter

    execution_input = parse_json_argument(input, option="--input")
    try:
        text = definition.read_text(encoding="utf-8")
    except OSError as exc:
        _err().print(f"[bold red]{definition}: cannot read: {exc.strerror}[/]")
        raise typer.Exit(2) from None
    try:
        machine = load_state_machine(text)
    except AslDefinitionError as exc:
        _err().print(f"[bold red]{definition}: invalid state machine[/]")
        _err().print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    result = local_interpreter().run(machine, execution_input)
    if result.status == "SUCCEEDED":
        print(json.dumps(result.output, indent=2, ensure_ascii=False))
        return
    print(json.dumps({"status": result.status, "error": result.error, "cause": result.cause}, indent=2,
                     ensure_ascii=False))
    raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        _err().print("interrupted")
        sys.exit(130)
