"""Loading workflow files: YAML and JSON syntax errors with line and column, duplicate keys, formats."""

from __future__ import annotations

import pytest

from orchestrator.domain.problems import WorkflowValidationError
from orchestrator.services.workflow_loader import format_of, load_workflow, parse_workflow

VALID_YAML = """\
name: demo
steps:
  - id: a
    type: noop
"""


def error_of(text: str, *, source_name: str = "workflow.yaml", fmt=None) -> WorkflowValidationError:
    with pytest.raises(WorkflowValidationError) as raised:
        parse_workflow(text, source_name=source_name, fmt=fmt)
    return raised.value


def test_valid_yaml_and_json_parse():
    assert parse_workflow(VALID_YAML, source_name="w.yaml").steps[0].id == "a"
    assert (
        parse_workflow('{"name": "demo", "steps": [{"id": "a", "type": "noop"}]}', source_name="w.json").name
        == "demo"
    )


def test_yaml_syntax_errors_give_file_line_and_column():
    # Given a mapping value on a line with a bad indent / When parsed / Then the error points at it
    text = "name: demo\nsteps:\n  - id: a\n    type: noop\n   bad: [1, 2\n"
    error = error_of(text)
    assert str(error).startswith("workflow.yaml: line 5, column 4: invalid YAML: ")
    assert error.problems[0].line == 5


def test_an_unclosed_flow_sequence_is_located():
    error = error_of("name: demo\nsteps: [\n  {id: a, type: noop}\n")
    assert str(error) == (
        "workflow.yaml: line 4, column 1: invalid YAML: did not find expected ',' or ']' "
        "(while parsing a flow sequence at line 2)"
    )


def test_duplicate_yaml_keys_are_errors_with_both_lines():
    # Given a step that sets `type` twice, and a top-level key given twice
    text = "name: demo\nsteps:\n  - id: a\n    type: noop\n    type: noop\nname: again\n"
    # When parsed / Then each repeat is a problem at its line and column, naming the first line
    assert str(error_of(text)).splitlines() == [
        "workflow.yaml: line 5, column 5: duplicate key 'type' (first given at line 4); remove one of them",
        "workflow.yaml: line 6, column 1: duplicate key 'name' (first given at line 1); remove one of them",
    ]


def test_yaml_merge_keys_are_not_duplicates():
    text = "defaults: &d {type: noop}\nname: demo\nsteps:\n  - <<: *d\n    id: a\n"
    with pytest.raises(WorkflowValidationError, match="defaults: unknown field"):
        parse_workflow(text, source_name="w.yaml")


def test_duplicate_keys_are_reported_with_the_other_problems():
    text = "name: demo\nsteps:\n  - id: a\n    type: noop\n    id: b\n  - id: c\n    type: noop\n    depends_on: [x]\n"
    assert str(error_of(text)).splitlines() == [
        "workflow.yaml: line 5, column 5: duplicate key 'id' (first given at line 3); remove one of them",
        "workflow.yaml: steps[1].depends_on[0]: unknown step 'x'",
    ]


def test_problems_in_yaml_files_carry_their_line():
    # Given a problem deep in a YAML file / When parsed / Then the problem knows its line (for editors, the CLI)
    text = "name: demo\nsteps:\n  - id: a\n    type: noop\n  - id: b\n    type: noop\n    depends_on:\n      - nope\n"
    (problem,) = error_of(text).problems
    assert (problem.location, problem.line) == ("steps[1].depends_on[0]", 8)


def test_a_missing_field_points_at_its_parent_line():
    (problem,) = error_of("name: demo\nsteps:\n  - type: noop\n").problems
    assert (str(problem), problem.line) == ("steps[0].id: required field is missing", 3)


def test_json_syntax_errors_give_line_and_column():
    error = error_of('{\n  "name": "demo",\n  "steps": [\n    {"id": "a",}\n  ]\n}\n', source_name="w.json")
    assert (
        str(error)
        == "w.json: line 4, column 16: invalid JSON: Expecting property name enclosed in double quotes"
    )


@pytest.mark.parametrize(
    ("text", "message"), [("", "the document is empty"), ("# nothing\n", "the document is empty")]
)
def test_an_empty_document_is_one_problem(text, message):
    assert message in str(error_of(text))


def test_a_yaml_scalar_is_not_a_workflow():
    assert str(error_of("just text\n")) == (
        "workflow.yaml: a workflow must be a mapping with 'name' and 'steps', found 'just text'"
    )


def test_several_documents_are_refused():
    assert "expected a single document" in str(error_of(VALID_YAML + "---\nname: two\n"))


@pytest.mark.parametrize(
    ("name", "text", "fmt"),
    [("w.json", "name: x", "json"), ("w.YML", "{}", "yaml"), ("w.yaml", "{}", "yaml"), ("<api>", ' {"a": 1}', "json"),
     ("<api>", "name: x", "yaml")],
)  # fmt: skip
def test_the_format_follows_the_file_name_then_the_text(name, text, fmt):
    assert format_of(name, text) == fmt


def test_load_workflow_reads_files_by_suffix(tmp_path):
    path = tmp_path / "flow.yml"
    path.write_text(VALID_YAML, encoding="utf-8")
    assert load_workflow(path).name == "demo"


def test_files_that_are_not_utf8_are_one_problem(tmp_path):
    path = tmp_path / "flow.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(WorkflowValidationError, match=r"flow.yaml: not UTF-8 text"):
        load_workflow(path)


def test_script_files_are_checked_where_the_file_is(tmp_path):
    # Given a workflow file whose script steps name a present file, a missing one and one outside its folder
    (tmp_path / "present.py").write_text("print('{}')")
    workflow = tmp_path / "wf.yaml"
    workflow.write_text("name: scripts\nsteps:\n"
                        "  - {id: a, type: script, config: {script: present.py}}\n"
                        "  - {id: b, type: script, config: {script: missing.py}}\n"
                        "  - {id: c, type: script, config: {script: ../outside.py}}\n")
    (tmp_path.parent / "outside.py").write_text("print('{}')")
    # When it is loaded / Then the missing and the outside files are problems at their locations, with lines
    with pytest.raises(WorkflowValidationError) as caught:
        load_workflow(workflow)
    found = {(problem.location, problem.line) for problem in caught.value.problems}
    assert found == {("steps[1].config.script", 4), ("steps[2].config.script", 5)}
