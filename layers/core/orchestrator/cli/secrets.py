"""`orchestrator secrets`: set, list and delete the caller's own secrets.

Values never come from the command line (argv is visible to every user of the machine in ``ps`` and
lands in shell history): ``set`` reads the value from stdin when it is piped, else asks for it without
echo. By default the command talks to a running orchestrator's API as the key's owner (like ``deploy``);
with ``--local`` it writes the operator's secrets straight into ``ORCHESTRATOR_HOME``'s store, where the
single-user ``orchestrator run`` and the admin owner's workflows find them.
"""

from __future__ import annotations

import sys
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli.api_client import ApiClient, CliError

if TYPE_CHECKING:
    from rich.console import Console

secrets_app = typer.Typer(help="Your secrets: {{secrets.<name>}} in your workflows. Values are write-only.",
                          no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(help="letters, digits, '_', '-', '.'; not ORCHESTRATOR_* or AWS_*")]
LocalOption = Annotated[bool, typer.Option("--local", help="the operator's secrets in ORCHESTRATOR_HOME, no server")]
UrlOption = Annotated[str, typer.Option(envvar="ORCHESTRATOR_URL", help="the API's base URL")]
KeyOption = Annotated[str | None, typer.Option(envvar=["ORCHESTRATOR_API_KEY", "ORCHESTRATOR_ADMIN_KEY"],
                                               help="API key (default: $ORCHESTRATOR_API_KEY)")]
DEFAULT_URL = "http://127.0.0.1:8100"


@cache
def _err() -> Console:
    # every `orchestrator` command imports this module (to list `secrets`): rich only when a secret command prints
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class _LocalVault:
    """The operator's (admin owner's) secrets in this machine's store, through the same vault as serve."""

    def __init__(self) -> None:
        from orchestrator.composition.secrets import get_secret_vault
        from orchestrator.domain.tenancy import ADMIN_OWNER_ID

        self._vault = get_secret_vault()
        self._owner = ADMIN_OWNER_ID

    def put_secret(self, name: str, value: str) -> dict[str, Any]:
        info = self._vault.put_secret(self._owner, name, value)
        return {"name": info.name, "updated_at": _as_the_api_writes(info.updated_at)}

    def list_secrets(self) -> list[dict[str, Any]]:
        return [{"name": info.name, "updated_at": _as_the_api_writes(info.updated_at)}
                for info in self._vault.list_secrets(self._owner)]

    def delete_secret(self, name: str) -> None:
        if not self._vault.delete_secret(self._owner, name):
            raise CliError(f"secret {name!r} not found")


def _as_the_api_writes(moment: datetime) -> str:
    # pydantic's JSON form (what the server answers), so that both ways list the same text
    from pydantic import TypeAdapter

    return TypeAdapter(datetime).dump_python(moment, mode="json")


def _target(local: bool, url: str, key: str | None) -> ApiClient | _LocalVault:
    if local:
        return _LocalVault()
    if not key:
        _err().print("[bold red]no API key[/]: pass --key or set ORCHESTRATOR_API_KEY, or use --local "
                     "for this machine's operator secrets")
        raise typer.Exit(2)
    return ApiClient(url, key)


def _checked_name(name: str) -> str:
    from orchestrator.domain.tenancy import SecretNameNotAllowed, check_secret_name

    try:
        return check_secret_name(name)
    except SecretNameNotAllowed as error:
        _err().print(f"[bold red]{_escape(str(error))}[/]")
        raise typer.Exit(2) from None


def _read_value(name: str) -> str:
    if sys.stdin.isatty():
        value = typer.prompt(f"value of {name}", hide_input=True, confirmation_prompt=True)
    else:
        value = sys.stdin.read()
        # `echo s3cret | orchestrator secrets set x`: the newline is the shell's, not the secret's
        value = value[:-1] if value.endswith("\n") else value
        value = value[:-1] if value.endswith("\r") else value
    if not value:
        _err().print("[bold red]empty value[/]: pipe the value on stdin, or type it at the prompt")
        raise typer.Exit(2)
    return value


def _run(action: Any) -> Any:
    try:
        return action()
    except CliError as error:
        _err().print(f"[bold red]{_escape(str(error))}[/]")
        raise typer.Exit(1) from None


@secrets_app.command("set")
def set_secret(name: NameArgument, local: LocalOption = False, url: UrlOption = DEFAULT_URL,
               key: KeyOption = None) -> None:
    """Create or replace a secret; the value is read from stdin (piped) or a hidden prompt, never argv."""
    name = _checked_name(name)
    target = _target(local, url, key)
    value = _read_value(name)
    _run(lambda: target.put_secret(name, value))
    _err().print(f"[green]{_escape(name)}[/] saved")


@secrets_app.command("list")
def list_secrets(local: LocalOption = False, url: UrlOption = DEFAULT_URL, key: KeyOption = None) -> None:
    """Names and last change of your secrets (values are never shown)."""
    target = _target(local, url, key)
    for item in _run(target.list_secrets):
        print(f"{item['name']}\t{item['updated_at']}", flush=True)  # tab-separated, for scripts


@secrets_app.command("delete")
def delete_secret(name: NameArgument, local: LocalOption = False, url: UrlOption = DEFAULT_URL,
                  key: KeyOption = None) -> None:
    """Delete a secret."""
    name = _checked_name(name)
    target = _target(local, url, key)
    _run(lambda: target.delete_secret(name))
    _err().print(f"[green]{_escape(name)}[/] deleted")
