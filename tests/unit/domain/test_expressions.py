"""The expression language of `when` and condition steps: useful, and safe against hostile input."""

from __future__ import annotations

import time

import pytest

from orchestrator.domain.expressions import (
    ExpressionError,
    ExpressionSyntaxError,
    compile_expression,
    truthy,
)

SCOPE = {
    "variables": {"threshold": 10, "regions": ["eu", "us"]},
    "input": {"mode": "full", "name": "Report", "flag": "false", "build-id": 9},
    "steps": {
        "check": {"output": {"result": True, "count": 12, "items": [{"ok": True}, {"ok": False}]}},
        "build-image": {"output": {"tag": "v1"}},
    },
    "execution": {"id": "exec-1"},
    "loop": {"item": {"region": "eu"}, "index": 0},
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("steps.check.output.count > 10 and input.mode == 'full'", True),
        ("steps.check.output.count > variables.threshold * 2", False),
        ("loop.item.region in variables.regions", True),
        ("'x' not in input.mode", True),
        ("len(steps.check.output.items)", 2),
        ("any(i.ok for i in steps.check.output.items)", True),
        ("all([i.ok for i in steps.check.output.items])", False),
        ("max(steps.check.output.count, 3) + abs(-1)", 13),
        ("input.name.lower().startswith('rep')", True),
        ("steps['build-image'].output.tag == 'v1'", True),
        ("input['build-id'] == 9", True),
        ("steps.check.output.items[1]['ok']", False),
        ("str(loop.index) + execution.id", "0exec-1"),
        ("int('7') + float('0.5')", 7.5),
        ("'big' if steps.check.output.count > 10 else 'small'", "big"),
        ("not steps.check.output.result", False),
        ("{{steps.check.output.result}}", True),
        ("{{variables.regions}}", True),
    ],
)
def test_expressions_evaluate_against_the_scope(text, value):
    # Given an expression over the scope / When evaluated / Then it has the expected value
    assert compile_expression(text).evaluate(SCOPE) == value


def test_a_whole_template_expression_means_its_truthiness_and_text_false_is_false():
    # Given a when written as a template of a text "false" (as query strings carry it)
    expression = compile_expression("{{input.flag}}")
    # When evaluated / Then it is false, like the words no/off/0/""
    assert expression.evaluate(SCOPE) is False
    assert [truthy(word) for word in ["no", "OFF", "0", "", "yes", "x"]] == [
        False,
        False,
        False,
        False,
        True,
        True,
    ]


def test_is_true_applies_the_same_truthiness_to_any_expression():
    # Given an expression yielding the text "false" / When asked whether it holds / Then no
    assert compile_expression("input.flag").is_true(SCOPE) is False
    assert compile_expression("steps.check.output.count").is_true(SCOPE) is True


def test_names_lists_the_scope_paths_read_in_document_order():
    # Given an expression with several paths, a computed index and a comprehension variable
    expression = compile_expression(
        "steps.check.output.count > 10 and input.mode == 'full' "
        "and steps['build-image'].output.tag and variables.regions[loop.index] "
        "and any(x.ok for x in steps.check.output.items)"
    )
    # When its names are listed / Then each path once per use, bare comprehension variables excluded
    assert expression.names() == [
        "steps.check.output.count",
        "input.mode",
        "steps.build-image.output.tag",
        "variables.regions",
        "loop.index",
        "steps.check.output.items",
    ]


def test_names_of_a_template_expression_is_its_path():
    assert compile_expression("{{steps.check.output.result}}").names() == ["steps.check.output.result"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "steps.check.output.count >",
            "invalid expression 'steps.check.output.count >': invalid syntax at column 27",
        ),
        ("input.mode = 'full'", "invalid syntax"),
        ("input.__class__", "'__class__': names starting with '_' are not allowed at column 7"),
        ("input.mode._private", "'_private': names starting with '_' are not allowed"),
        ("__import__('os')", "unknown function '__import__'"),
        ("open('/etc/passwd').read()", "unknown function 'open'"),
        ("(lambda: 1)()", "lambda is not allowed in expressions at column 2"),
        ("f'{input.mode}'", "an f-string is not allowed in expressions"),
        ("(x := 1)", "assignment (:=) is not allowed"),
        ("os.system('ls')", "unknown name 'os'"),
        ("foo > 1", "unknown name 'foo' (names are execution, input, loop, steps, variables"),
        ("input.mode == {{input.mode}}", "a template must be the whole expression"),
        ("{{secrets.token}}", "secrets cannot be used in expressions"),
        ("", "it is empty"),
        ("1 + " * 2000 + "1", "longer than 4000 characters"),
        ("[" * 200 + "]" * 200, "nested too deeply"),
    ],
)
def test_unsafe_or_malformed_expressions_are_rejected_when_compiled(text, message):
    # Given an expression the language does not allow / When compiled / Then it is refused, saying where
    with pytest.raises(ExpressionSyntaxError) as raised:
        compile_expression(text)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    "text",
    [
        "9 ** 999999",
        "2 ** 5000",
        "'x' * 10 ** 8",
        "[1] * 10 ** 6",
        "[x for x in [1] * 99999 for y in [1] * 99999]",
        "1 << 100000",
    ],
)
def test_huge_results_are_refused_quickly(text):
    # Given an expression that would build an enormous value / When evaluated / Then refused, fast
    started = time.perf_counter()
    with pytest.raises(ExpressionError):
        compile_expression(text).evaluate(SCOPE)
    assert time.perf_counter() - started < 0.5


def test_dict_methods_are_not_reachable_through_attribute_access():
    # Given an input object / When an expression names `items` or `clear` on it / Then it is key access only
    with pytest.raises(ExpressionError, match="input has no key 'clear'"):
        compile_expression("input.clear()").evaluate(SCOPE)
    assert compile_expression("input.items").evaluate({"input": {"items": [1]}}) == [1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steps.check.output.missing > 1", "steps.check.output has no key 'missing'"),
        ("steps.check.output.items[5]", "steps.check.output.items has no item 5"),
        ("input.mode.upper.x", "it has no 'x'"),
        ("steps.check.output.count + 'a'", "cannot evaluate"),
        ("steps.check.output.count / 0", "division by zero"),
    ],
)
def test_evaluation_errors_say_what_is_missing(text, message):
    # Given an expression that reads something absent or mismatched / When evaluated / Then a clear error
    with pytest.raises(ExpressionError) as raised:
        compile_expression(text).evaluate(SCOPE)
    assert message in str(raised.value)


def test_a_root_absent_from_the_scope_is_named():
    # Given `loop` used where no loop runs / When evaluated / Then the error names it
    with pytest.raises(ExpressionError, match="'loop' is not available here"):
        compile_expression("loop.index > 0").evaluate({"input": {}})


def test_other_roots_can_be_allowed_for_other_contexts():
    # Given the condition trigger's roots / When compiled with them / Then `source` is a name, `steps` is not
    assert compile_expression("source.queue_depth > 100", roots={"source"}).evaluate(
        {"source": {"queue_depth": 101}}
    )
    with pytest.raises(ExpressionSyntaxError, match="unknown name 'steps'"):
        compile_expression("steps.a.output", roots={"source"})


def test_multi_line_expressions_from_yaml_block_scalars_are_one_line():
    # Given an expression spread over lines, as a YAML `|` block keeps it / When evaluated / Then it works
    assert (
        compile_expression("steps.check.output.count > 10\nand input.mode == 'full'\n").evaluate(SCOPE)
        is True
    )


def test_compiled_expressions_are_cached():
    # Given the same text twice / When compiled / Then parsing happened once
    assert compile_expression("input.mode == 'full'") is compile_expression("input.mode == 'full'")


def test_json_literals_true_false_null_are_constants() -> None:
    # Given expressions written the way YAML/JSON authors write literals
    # Then they evaluate like Python's True / False / None
    assert compile_expression("true and not false").evaluate({}) is True
    assert compile_expression("input.x == null").evaluate({"input": {"x": None}}) is True
    assert compile_expression("true").names() == []
