"""``{{...}}`` templates in step configs and mappings.

A template names one value: ``{{variables.x}}``, ``{{input.x}}``, ``{{steps.<id>.output.<path>}}``,
``{{secrets.<name>}}``, ``{{execution.id}}``, ``{{loop.item}}`` / ``{{loop.index}}``. Paths take dotted
keys, ``[index]`` and quoted keys (``["a.b"]``). There are no filters or defaults on purpose: a template
either resolves exactly or fails naming what is missing.

A string that is exactly one template becomes the value itself (a number stays a number, an object an
object); templates embedded in text render as text, non-strings as JSON. Secrets are resolved last,
through a callable, and their values are returned so that callers can mask them in logs.

Text in ``{{ }}`` that does not start with a name (``{{.State}}`` in a Go template, ``{{ $x }}``) is
not a template and is kept as written, so scripts may carry other tools' templates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from orchestrator.domain.tenancy import SecretNameNotAllowed, check_secret_name
from orchestrator.masking import Masker

#: roots a template may start with, anywhere in a workflow (``output`` only in output_mapping)
SCOPE_ROOTS = frozenset({"variables", "input", "steps", "execution", "loop"})
SECRETS_ROOT = "secrets"

_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][^{}]*?)\s*\}\}")
_ROOT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# the usual shape, `steps.fetch.output.body`, parsed by a split instead of segment by segment
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*")
_SEGMENT = re.compile(
    r"""\.(?P<key>[^.\[\]\s'"{}]+)"""  # .key (step ids may hold '-')
    r"""|\[(?P<index>-?\d+)\]"""  # [3] or [-1]
    r"""|\[\s*'(?P<squoted>[^']*)'\s*\]"""  # ['a.b']
    r"""|\[\s*"(?P<dquoted>[^"]*)"\s*\]"""  # ["a.b"]
)

PathSegment = str | int


class TemplateError(ValueError):
    """A template that cannot be rendered; the message names the template and the missing part."""


class TemplateSyntaxError(TemplateError):
    """A template whose text is not a reference (``{{steps..x}}``, ``{{input.a b}}``)."""


@dataclass(frozen=True, slots=True)
class Reference:
    """One ``{{...}}``: its root name, the path below it, and the template text as written."""

    root: str
    path: tuple[PathSegment, ...]
    text: str

    @property
    def dotted(self) -> str:
        """``steps.fetch.output.items[0]``: the reference without braces, for messages."""
        return format_path(self.root, self.path)


@dataclass(slots=True)
class Rendered:
    value: Any
    #: every secret value that went into ``value``: mask them wherever the value may be shown
    secret_values: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Compiled:
    #: literal text and references, in order
    parts: tuple[str | Reference, ...]
    #: set when the whole string is one template: the value keeps its type
    whole: Reference | None


def format_path(root: str, path: tuple[PathSegment, ...]) -> str:
    text = root
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif _SEGMENT.fullmatch(f".{segment}"):
            text += f".{segment}"
        else:
            text += f"[{json.dumps(segment)}]"
    return text


def _parse_reference(template: str, body: str) -> Reference:
    if _DOTTED.fullmatch(body):
        root, *keys = body.split(".")
        if root != SECRETS_ROOT:
            return Reference(root, tuple(keys), template)
        if len(keys) == 1:
            _check_secret_name(template, keys[0])
            return Reference(root, tuple(keys), template)
    root_match = _ROOT.match(body)
    assert root_match is not None  # _TEMPLATE only matches bodies that start with a name
    path: list[PathSegment] = []
    position = root_match.end()
    while position < len(body):
        segment = _SEGMENT.match(body, position)
        if segment is None:
            raise TemplateSyntaxError(
                f"template {template!r}: cannot read the path at {body[position:]!r} "
                '(use .key, [index] or ["key"])'
            )
        if segment["index"] is not None:
            path.append(int(segment["index"]))
        else:
            path.append(
                next(
                    part
                    for part in (segment["key"], segment["squoted"], segment["dquoted"])
                    if part is not None
                )
            )
        position = segment.end()
    root = root_match.group()
    if root == SECRETS_ROOT:
        if len(path) != 1 or not isinstance(path[0], str):
            raise TemplateSyntaxError(
                f"template {template!r}: a secret is named by one key: {{{{secrets.<name>}}}}"
            )
        _check_secret_name(template, path[0])
    return Reference(root, tuple(path), template)


def _check_secret_name(template: str, name: str) -> None:
    try:
        check_secret_name(name)
    except SecretNameNotAllowed as error:
        raise TemplateSyntaxError(f"template {template!r}: {error}") from None


@lru_cache(maxsize=8192)
def _compile(text: str) -> _Compiled:
    parts: list[str | Reference] = []
    position = 0
    for match in _TEMPLATE.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        parts.append(_parse_reference(match.group(), match.group(1)))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    whole = parts[0] if len(parts) == 1 and isinstance(parts[0], Reference) else None
    return _Compiled(tuple(parts), whole)


def is_template(value: Any) -> bool:
    """Whether a value is a string holding ``{{`` (a template, or text a template would fill)."""
    return isinstance(value, str) and "{{" in value


def whole_reference(text: str) -> Reference | None:
    """The reference of a string that is exactly one template, else None."""
    return _compile(text).whole if "{{" in text else None


def iter_strings(
    value: Any, path: tuple[PathSegment, ...] = ()
) -> Iterator[tuple[tuple[PathSegment, ...], str]]:
    """Every string inside nested dicts and lists, with its path (dict keys are not templates)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_strings(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from iter_strings(item, (*path, index))


def references_in(text: str) -> list[Reference]:
    """The references of one string; TemplateSyntaxError if one of its templates is malformed."""
    if "{{" not in text:
        return []
    return [part for part in _compile(text).parts if isinstance(part, Reference)]


def find_references(value: Any) -> list[Reference]:
    """Every reference in a value (nested dicts and lists), in document order."""
    return [reference for _, text in iter_strings(value) for reference in references_in(text)]


def mask(text: str, secret_values: Iterable[str]) -> str:
    """``text`` with each secret value (also as it looks inside JSON) replaced by ``***``.

    The same rules as the process-wide ``orchestrator.masking.Masker`` (which it uses): longest first,
    and values too short to be secrets are left alone.
    """
    return Masker(secret_values).mask(text)


def render(
    value: Any,
    scope: Mapping[str, Any],
    *,
    secrets: Callable[[str], str] | None = None,
) -> Rendered:
    """``value`` with every template resolved against ``scope`` (roots: variables, input, steps, ...).

    ``scope["steps"]`` may be a lazy Mapping: only the outputs that templates name are read from it.
    Values taken from the scope are not copied; treat the result as read-only.
    """
    renderer = _Renderer(scope, secrets)
    return Rendered(renderer.value(value), renderer.secret_values)


class _Renderer:
    __slots__ = ("scope", "secrets", "secret_values")

    def __init__(self, scope: Mapping[str, Any], secrets: Callable[[str], str] | None) -> None:
        self.scope = scope
        self.secrets = secrets
        self.secret_values: set[str] = set()

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value) if "{{" in value else value
        if isinstance(value, Mapping):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value

    def text(self, text: str) -> Any:
        compiled = _compile(text)
        if compiled.whole is not None:
            return self.resolve(compiled.whole)
        return "".join(
            part if isinstance(part, str) else _as_text(self.resolve(part)) for part in compiled.parts
        )

    def resolve(self, reference: Reference) -> Any:
        if reference.root == SECRETS_ROOT:
            return self.secret(reference)
        try:
            current = self.scope[reference.root]
        except KeyError:
            raise TemplateError(
                f"template {reference.text!r}: '{reference.root}' is not available here"
            ) from None
        for depth, segment in enumerate(reference.path):
            current = _step_into(current, segment, reference, depth)
        return current

    def secret(self, reference: Reference) -> str:
        name = str(reference.path[0])
        if self.secrets is None:
            raise TemplateError(f"template {reference.text!r}: no secret store is available to resolve it")
        try:
            value = self.secrets(name)
        except LookupError as error:  # the Secrets port raises SecretNotFound (a KeyError) naming the secret
            said = error.args[0] if error.args and isinstance(error.args[0], str) else ""
            detail = said if said.startswith(("secret ", "secret name ")) else f"secret '{name}' not found"
            raise TemplateError(f"template {reference.text!r}: {detail}") from None
        self.secret_values.add(value)
        return value


def _step_into(current: Any, segment: PathSegment, reference: Reference, depth: int) -> Any:
    if isinstance(current, Mapping):
        try:
            return current[segment]
        except KeyError:
            pass
        if isinstance(segment, int):  # JSON object keys are text: {"0": ...}[0] means "0"
            try:
                return current[str(segment)]
            except KeyError:
                pass
        if reference.root == "steps" and depth == 0:
            raise _missing(reference, depth, f"step '{segment}' has no result in this execution")
        raise _missing(reference, depth, f"{{where}} has no key {str(segment)!r}")
    if isinstance(current, list | tuple):
        index = (
            segment if isinstance(segment, int) else int(segment) if segment.lstrip("-").isdigit() else None
        )
        if index is None:
            raise _missing(reference, depth, f"{{where}} is a list; {segment!r} is not an index")
        if not -len(current) <= index < len(current):
            raise _missing(reference, depth, f"{{where}} has no index {index} (length {len(current)})")
        return current[index]
    raise _missing(reference, depth, f"{{where}} is {kind_of(current)}; cannot read {str(segment)!r}")


def _missing(reference: Reference, depth: int, problem: str) -> TemplateError:
    # the path walked so far is only formatted when something is missing: rendering is the hot path
    where = format_path(reference.root, reference.path[:depth])
    return TemplateError(f"template {reference.text!r}: {problem.replace('{where}', where)}")


def kind_of(value: Any) -> str:
    """What a value is, in words for messages: null, a boolean, a number, text, a list, an object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)
