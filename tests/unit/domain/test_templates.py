"""Templates: `{{...}}` references, whole-value type preservation, embedded text, lazy steps, secrets last."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from orchestrator.domain.templates import (
    Reference,
    TemplateError,
    TemplateSyntaxError,
    find_references,
    mask,
    render,
)

SCOPE: dict[str, Any] = {
    "variables": {"batch_size": 1000, "api": "https://api.example.com", "flags": {"dry": False}},
    "input": {"user": {"id": 42, "tags": ["a", "b"]}, "mode": "full", "note": None},
    "steps": {"fetch": {"output": {"body": {"items": [{"id": 7}, {"id": 8}]}, "status_code": 200}}},
    "execution": {"id": "exec-1"},
}


class LazySteps(Mapping[str, Any]):
    """A steps mapping that loads each step's record on first use, the way the step runner's store does."""

    def __init__(self, records: dict[str, Any]) -> None:
        self.records = records
        self.loaded: list[str] = []

    def __getitem__(self, step_id: str) -> Any:
        self.loaded.append(step_id)
        return self.records[step_id]

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("rendering must not list every step")

    def __len__(self) -> int:
        raise AssertionError("rendering must not count the steps")


@pytest.mark.parametrize(
    ("template", "value"),
    [
        ("{{variables.batch_size}}", 1000),
        ("{{input.user}}", {"id": 42, "tags": ["a", "b"]}),
        ("{{input.user.tags}}", ["a", "b"]),
        ("{{variables.flags.dry}}", False),
        ("{{input.note}}", None),
        ("{{ steps.fetch.output.body.items[1].id }}", 8),
        ("{{steps.fetch.output.body.items[-1]}}", {"id": 8}),
        ("{{steps.fetch.output.body.items.0.id}}", 7),
        ('{{steps.fetch.output["body"]["items"][0]}}', {"id": 7}),
        ("{{execution.id}}", "exec-1"),
    ],
)
def test_a_whole_value_template_keeps_the_type_of_its_value(template, value):
    # Given a string that is exactly one template / When rendered / Then it is the value itself, not text
    assert render(template, SCOPE).value == value


def test_embedded_templates_render_as_text_and_non_text_as_json():
    # Given templates inside longer strings / When rendered / Then they join as text (objects as JSON)
    rendered = render(
        {
            "url": "{{variables.api}}/users/{{input.user.id}}?mode={{input.mode}}",
            "summary": "tags={{input.user.tags}} dry={{variables.flags.dry}} note={{input.note}}",
        },
        SCOPE,
    ).value
    assert rendered == {
        "url": "https://api.example.com/users/42?mode=full",
        "summary": 'tags=["a", "b"] dry=false note=null',
    }


def test_nested_values_are_rendered_and_plain_values_kept():
    # Given a config with lists, objects, numbers and templates / When rendered / Then only templates change
    config = {
        "headers": {"X-User": "{{input.user.id}}"},
        "ids": ["{{input.user.id}}", 3],
        "retries": 2,
        "on": True,
    }
    assert render(config, SCOPE).value == {
        "headers": {"X-User": 42},
        "ids": [42, 3],
        "retries": 2,
        "on": True,
    }


def test_other_tools_templates_are_left_as_written():
    # Given a script holding a Go template and a shell-style expression / When rendered / Then untouched
    script = "docker inspect --format '{{.State.Status}}' x && echo '{{ $x }}'"
    assert render(script, SCOPE).value == script
    assert find_references(script) == []


def test_steps_may_be_a_lazy_mapping_read_only_for_the_steps_named():
    # Given a lazy steps mapping over three step records
    steps = LazySteps({"a": {"output": 1}, "b": {"output": {"n": 2}}, "c": {"output": 3}})
    # When a value naming two of them is rendered
    rendered = render(["{{steps.b.output.n}}", "{{steps.a.output}}"], {**SCOPE, "steps": steps})
    # Then only those two were loaded, and never listed
    assert rendered.value == [2, 1]
    assert steps.loaded == ["b", "a"]


def test_secrets_are_resolved_through_the_callable_and_collected():
    # Given a secret store callable
    asked: list[str] = []

    def secrets(name: str) -> str:
        asked.append(name)
        return {"api_token": "tok-123456", "db": "pw-abcdef"}[name]

    # When a config with two secrets is rendered
    rendered = render(
        {"Authorization": "Bearer {{secrets.api_token}}", "password": "{{secrets.db}}"},
        SCOPE,
        secrets=secrets,
    )
    # Then the values are in place and collected for masking
    assert rendered.value == {"Authorization": "Bearer tok-123456", "password": "pw-abcdef"}
    assert rendered.secret_values == {"tok-123456", "pw-abcdef"}
    assert asked == ["api_token", "db"]


def test_a_missing_secret_or_secret_store_is_a_template_error():
    # Given no secret store, or one that does not know the name / When rendered / Then the error names it
    with pytest.raises(TemplateError, match=r"'\{\{secrets.x\}\}': no secret store"):
        render("{{secrets.x}}", SCOPE)

    def empty(name: str) -> str:
        raise KeyError(name)

    with pytest.raises(TemplateError, match=r"secret 'x' not found"):
        render("{{secrets.x}}", SCOPE, secrets=empty)


def test_mask_replaces_the_collected_secret_values():
    # Given a rendered value with secrets / When a log line holding them is masked / Then they are gone
    rendered = render("Bearer {{secrets.t}}", SCOPE, secrets=lambda name: "tok-123456")
    assert mask(f"GET with {rendered.value} failed", rendered.secret_values) == "GET with Bearer *** failed"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "{{steps.missing.output}}",
            "template '{{steps.missing.output}}': step 'missing' has no result in this execution",
        ),
        ("{{steps.fetch.output.body.items[5]}}", "steps.fetch.output.body.items has no index 5 (length 2)"),
        ("{{steps.fetch.output.headers}}", "steps.fetch.output has no key 'headers'"),
        ("{{input.mode.x}}", "input.mode is text; cannot read 'x'"),
        ("{{input.note.x}}", "input.note is null; cannot read 'x'"),
        ("{{input.user.tags.first}}", "input.user.tags is a list; 'first' is not an index"),
        ("{{loop.item}}", "'loop' is not available here"),
        ("x {{variables.nope}} y", "template '{{variables.nope}}': variables has no key 'nope'"),
    ],
)
def test_an_unknown_reference_names_the_template_and_the_missing_part(template, message):
    # Given a reference to something absent / When rendered / Then the error says which part is missing
    with pytest.raises(TemplateError) as raised:
        render(template, SCOPE)
    assert message in str(raised.value)


def test_find_references_lists_every_reference_in_document_order():
    # Given a value with templates at several depths / When searched / Then each reference, parsed
    value = {"a": "{{variables.x}} and {{steps.s1.output.rows[0].id}}", "b": ["{{secrets.tok}}", 5]}
    assert find_references(value) == [
        Reference("variables", ("x",), "{{variables.x}}"),
        Reference("steps", ("s1", "output", "rows", 0, "id"), "{{steps.s1.output.rows[0].id}}"),
        Reference("secrets", ("tok",), "{{secrets.tok}}"),
    ]
    assert find_references(value)[1].dotted == "steps.s1.output.rows[0].id"


def test_step_ids_with_dashes_and_quoted_keys_parse():
    # Given a dashed step id and a key holding a dot / When parsed / Then the path keeps them whole
    (reference,) = find_references('{{steps.build-image.output["app.version"]}}')
    assert reference.path == ("build-image", "output", "app.version")


@pytest.mark.parametrize("template", ["{{steps..x}}", "{{input.a b}}", "{{secrets.a.b}}", "{{input.[x]}}"])
def test_malformed_templates_are_syntax_errors(template):
    # Given a template whose path cannot be read / When searched / Then a syntax error names the template
    with pytest.raises(TemplateSyntaxError, match="template"):
        find_references(template)
