"""Problems found in a workflow definition, each with its location, and the error that carries them all."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from orchestrator.domain.templates import kind_of

Location = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Problem:
    """One thing wrong: ``location`` like ``steps[3].depends_on[0]`` (or ``line 4, column 7``), ``message``."""

    location: str
    message: str
    #: the source line the location is on, when known (YAML files); not part of the text or of equality
    line: int | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class WorkflowValidationError(ValueError):
    """Every problem of one workflow source; ``str()`` lists them one a line, ``<source>: <location>: <message>``."""

    def __init__(self, problems: Sequence[Problem], source: str) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__("\n".join(f"{source}: {problem}" for problem in self.problems))


def format_location(location: Location) -> str:
    """``("steps", 3, "depends_on", 0)`` -> ``steps[3].depends_on[0]``; odd keys are quoted: ``headers["a.b"]``."""
    text = ""
    for segment in location:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif _PLAIN_KEY.fullmatch(segment):
            text += f".{segment}" if text else segment
        else:
            text += f"[{json.dumps(segment, ensure_ascii=False)}]"
    return text


def problem_at(location: Location, message: str) -> Problem:
    return Problem(format_location(location), message)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'depends_on'?)`` when a candidate is close to ``word``, else ``""``."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def describe(value: object) -> str:
    """A short description of a value found where something else was expected."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict | list):
        return kind_of(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
