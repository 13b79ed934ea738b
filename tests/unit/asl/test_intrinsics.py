"""Tests of orchestrator.asl.intrinsics: parser, every function, AWS errors and the recorded AWS cases."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from orchestrator.asl.intrinsics import (
    IntrinsicError,
    IntrinsicParseError,
    evaluate_intrinsic,
    is_intrinsic,
    parse_intrinsic,
)

# the repository's copy of ../shared/conformance: a clean clone has no ../shared
RECORDED_CASES_DIR = Path(__file__).resolve().parents[2] / "conformance/aws-recorded/cases"
_PATH_TOKEN = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


class PathNotFound(LookupError):
    pass


def make_resolver(data: Any, context: Any = None, variables: dict[str, Any] | None = None):
    """A JSONPath-subset resolver standing in for the interpreter's: $, $$ and $var with .name / [n]."""
    variables = variables or {}

    def resolve(path: str) -> Any:
        if path.startswith("$$"):
            value, rest = context, path[2:]
        elif path == "$" or path[1] in ".[":
            value, rest = data, path[1:]
        else:
            name = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)", path).group(1)
            value, rest = variables[name], path[1 + len(name) :]
        position = 0
        while position < len(rest):
            token = _PATH_TOKEN.match(rest, position)
            if token is None:
                raise PathNotFound(path)
            key, index = token.groups()
            try:
                value = value[key] if key is not None else value[int(index)]
            except (KeyError, IndexError, TypeError) as error:
                raise PathNotFound(path) from error
            position = token.end()
        return value

    return resolve


def evaluate(text: str, data: Any = None, **resolver_options: Any) -> Any:
    return evaluate_intrinsic(parse_intrinsic(text), make_resolver(data, **resolver_options))


def assert_invalid_arguments(text: str, function_name: str, data: Any = None) -> None:
    with pytest.raises(IntrinsicError) as raised:
        evaluate(text, data)
    assert raised.value.error == "States.Runtime"
    assert raised.value.cause == f"Invalid arguments in {function_name}"


# --------------------------------------------------------------------------------------------------
# Shape and parsing
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Format('{}', $.a)", True),
        ("States.UUID()", True),
        ("States.Array(\n1)", True),
        ("$.a", False),
        ("States.Format", False),
        (" States.UUID()", False),
        ("States.UUID() ", False),
        ("{% $x %}", False),
        (42, False),
    ],
)
def test_is_intrinsic_recognises_the_call_shape(text, expected):
    assert is_intrinsic(text) is expected


def test_parses_every_argument_kind():
    parsed = parse_intrinsic(
        r"States.Array('it\'s', -1, 2.5, 1e2, true, false, null, $, $.a[0].b, $$.Execution.Id, $v.x, States.Array())"
    )
    resolver = make_resolver({"a": [{"b": "B"}]}, {"Execution": {"Id": "exec-1"}}, {"v": {"x": "X"}})
    assert evaluate_intrinsic(parsed, resolver) == [
        "it's",
        -1,
        2.5,
        100.0,
        True,
        False,
        None,
        {"a": [{"b": "B"}]},
        "B",
        "exec-1",
        "X",
        [],
    ]
    assert parsed.function_name == "States.Array"


def test_paths_may_contain_brackets_quotes_and_commas():
    seen: list[str] = []

    def resolver(path: str) -> str:
        seen.append(path)
        return path

    parsed = parse_intrinsic("States.Array($['a, b'], $.c[?(@.d == 'x)')], $.e )")
    assert evaluate_intrinsic(parsed, resolver) == ["$['a, b']", "$.c[?(@.d == 'x)')]", "$.e"]


def test_string_literal_escapes():
    assert evaluate(r"States.Array('\'', '\{', '\}', '\\', 'a\nb')".replace(r"\n", "\n")) == [
        "'",
        "{",
        "}",
        "\\",
        "a\nb",
    ]


def test_whitespace_between_arguments_is_allowed():
    assert evaluate("States.MathAdd(  1 ,\t2 )") == 3


@pytest.mark.parametrize(
    ("text", "message_part"),
    [
        ("States.Nope(1)", "unknown intrinsic function 'States.Nope'"),
        ("States.Array(1 2)", "expected ',' or ')'"),
        ("States.Array(1,)", "expected an argument"),
        ("States.Array('abc)", "unterminated string literal"),
        (r"States.Array('a\nb')", r"invalid escape sequence"),
        ("States.Array($.a[0)", "unterminated path"),
        ("States.Array(tru)", "unexpected character 't'"),
        ("States.Array(1.2.3)", "invalid number"),
        ("States.Array(1) extra", "after the closing parenthesis"),
        ("States.Array(1", "expected ',' or ')'"),
        ("$.a", "expected an intrinsic function call"),
    ],
)
def test_parse_errors_say_what_and_where(text, message_part):
    with pytest.raises(IntrinsicParseError) as raised:
        parse_intrinsic(text)
    message = str(raised.value)
    assert message_part in message
    assert "at position" in message
    assert repr(text) in message


def test_parse_error_is_a_value_error():
    assert issubclass(IntrinsicParseError, ValueError)


def test_nesting_is_limited_to_ten_levels():
    ten_levels = "States.Array(" * 10 + ")" * 10
    assert evaluate(ten_levels) == [[[[[[[[[[]]]]]]]]]]
    with pytest.raises(IntrinsicParseError, match="more than 10 nested"):
        parse_intrinsic("States.Array(" * 11 + ")" * 11)


def test_nine_nested_functions_like_the_aws_docs_example():
    # The docs' example has three placeholders for two values, which fails; two placeholders it is.
    text = (
        "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
        "States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem("
        "States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))"
    )
    data = {"ImageRecipe": {"Arn": "arn:aws:imagebuilder:us-east-1:1:image-recipe/my.recipe/1.0.0"}}
    assert evaluate(text, data) == "1.0"


def test_parsed_expression_is_reusable_across_threads():
    parsed = parse_intrinsic("States.Format('{}-{}', $.a, States.MathAdd($.b, 1))")
    results: list[str] = []

    def run(number: int) -> None:
        for _ in range(200):
            results.append(
                evaluate_intrinsic(parsed, make_resolver({"a": number, "b": number}))
                == f"{number}-{number + 1}"
            )

    threads = [threading.Thread(target=run, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results and all(results)


def test_resolver_errors_propagate_unchanged():
    with pytest.raises(PathNotFound):
        evaluate("States.Array($.missing)", {})


# --------------------------------------------------------------------------------------------------
# Wrong argument counts fail at run time (AWS accepts States.Hash() at creation and fails the execution)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "function_name"),
    [
        ("States.Hash()", "States.Hash"),
        ("States.Hash('a')", "States.Hash"),
        ("States.Hash('a', 'MD5', 'x')", "States.Hash"),
        ("States.Base64Decode()", "States.Base64Decode"),
        ("States.ArrayRange(1, 5)", "States.ArrayRange"),
        ("States.ArrayPartition($.a)", "States.ArrayPartition"),
        ("States.MathRandom(1)", "States.MathRandom"),
        ("States.MathRandom(1, 10, 5, 99)", "States.MathRandom"),
        ("States.UUID(1)", "States.UUID"),
        ("States.Format()", "States.Format"),
        ("States.JsonMerge($.a, $.a)", "States.JsonMerge"),
    ],
)
def test_wrong_argument_count_is_a_runtime_error(text, function_name):
    parse_intrinsic(text)  # accepted at load time, as AWS does
    assert_invalid_arguments(text, function_name, {"a": [1]})


# --------------------------------------------------------------------------------------------------
# States.Format
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ("States.Format('Hello {}', $.name)", {"name": "Ada"}, "Hello Ada"),
        ("States.Format('{} {} {}', $.a, $.b, $.c)", {"a": "x", "b": 2, "c": True}, "x 2 true"),
        ("States.Format('no placeholders')", {}, "no placeholders"),
        ("States.Format($.template, $.name)", {"template": "Hello {}", "name": "Ada"}, "Hello Ada"),
        ("States.Format('  {}  ', $.a)", {"a": "x"}, "  x  "),
        (r"States.Format('Name: \'{}\'', $.a)", {"a": "G"}, "Name: 'G'"),
        (r"States.Format('\{\} is {}', $.a)", {"a": "literal"}, "{} is literal"),
        (
            "States.Format('{}|{}|{}|{}', $.n, $.f, $.neg, $.big)",
            {"n": None, "f": 3.5, "neg": -1, "big": 2**53},
            "null|3.5|-1|9007199254740992",
        ),
        (
            "States.Format('{}', $.o)",
            {"o": {"Arg1": 1, "Arg2": [], "s": "t", "n": None}},
            "{Arg1=1, Arg2=[], s=t, n=null}",
        ),
        ("States.Format('{}', $.l)", {"l": [1, "two", [True, 1.0]]}, "[1, two, [true, 1.0]]"),
        ("States.Format('{}/{}', $.f, $.e)", {"f": 1e20, "e": 0.0001}, "1.0E20/1.0E-4"),
        (
            "States.Format('arn:{}:{}', $.svc, States.JsonToString($.obj))",
            {"svc": "lambda", "obj": {"k": 1}},
            'arn:lambda:{"k":1}',
        ),
    ],
)
def test_format(text, data, expected):
    assert evaluate(text, data) == expected


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("States.Format('{} {}', $.a)", {"a": "x"}),
        ("States.Format('{}', $.a, $.b)", {"a": "x", "b": "y"}),
        ("States.Format('Hello {', $.a)", {"a": "x"}),
        ("States.Format('Hello {{}}', $.a)", {"a": "x"}),
        ("States.Format('}')", {}),
        ("States.Format($.template, $.name)", {"template": 123, "name": "Ada"}),
        ("States.Format($.template, $.name)", {"template": "Hi {", "name": "Ada"}),
    ],
)
def test_format_errors(text, data):
    assert_invalid_arguments(text, "States.Format", data)


# --------------------------------------------------------------------------------------------------
# JSON manipulation
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("null", None),
        ("-0", 0),
        ("1.1", 1.1),
        ("true", True),
        ('"HelloWorld"', "HelloWorld"),
        ('[1, 2, "HelloWorld"]', [1, 2, "HelloWorld"]),
        ('{"Arg1": 1, "Arg2": []}', {"Arg1": 1, "Arg2": []}),
        ("", None),
        ("  ", None),
    ],
)
def test_string_to_json(text, expected):
    assert evaluate("States.StringToJson($.s)", {"s": text}) == expected


@pytest.mark.parametrize("value", ["{not json", "NaN", "[1,", 42, {"a": 1}, None])
def test_string_to_json_errors(value):
    assert_invalid_arguments("States.StringToJson($.s)", "States.StringToJson", {"s": value})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "true"),
        ("HelloWorld", '"HelloWorld"'),
        ([1, 2, "x"], '[1,2,"x"]'),
        ({"Arg1": 1, "Arg2": [], "u": "é"}, '{"Arg1":1,"Arg2":[],"u":"é"}'),
    ],
)
def test_json_to_string(value, expected):
    assert evaluate("States.JsonToString($.v)", {"v": value}) == expected


def test_json_merge_is_shallow_and_later_wins():
    data = {"a": {"x": {"a1": 1}, "b": 2, "d": 3}, "b": {"x": {"a3": 1}, "c": 3, "d": 4}}
    merged = evaluate("States.JsonMerge($.a, $.b, false)", data)
    assert merged == {"x": {"a3": 1}, "b": 2, "c": 3, "d": 4}
    assert data["a"] == {"x": {"a1": 1}, "b": 2, "d": 3}, "inputs are not modified"


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("States.JsonMerge($.a, $.b, true)", {"a": {}, "b": {}}),
        ("States.JsonMerge($.a, $.b, 'false')", {"a": {}, "b": {}}),
        ("States.JsonMerge($.a, $.b, false)", {"a": [], "b": {}}),
        ("States.JsonMerge($.a, $.b, false)", {"a": {}, "b": "x"}),
    ],
)
def test_json_merge_errors(text, data):
    assert_invalid_arguments(text, "States.JsonMerge", data)


# --------------------------------------------------------------------------------------------------
# Arrays
# --------------------------------------------------------------------------------------------------


def test_array_keeps_values_in_order():
    assert evaluate("States.Array($.a, 'b', 3, $.d)", {"a": {"x": 1}, "d": None}) == [{"x": 1}, "b", 3, None]


@pytest.mark.parametrize(
    ("array", "size", "expected"),
    [
        ([1, 2, 3], 1, [[1], [2], [3]]),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9], 4, [[1, 2, 3, 4], [5, 6, 7, 8], [9]]),
        ([1, 2, 3], 10, [[1, 2, 3]]),
        ([], 3, []),
        ([1, 2, 3, 4, 5], 2.6, [[1, 2], [3, 4], [5]]),  # AWS truncates the chunk size
        ([1, 2, 3], 2147483647, [[1, 2, 3]]),
    ],
)
def test_array_partition(array, size, expected):
    assert evaluate("States.ArrayPartition($.a, $.n)", {"a": array, "n": size}) == expected


@pytest.mark.parametrize(
    ("array", "size"), [([1], 0), ([1], -1), ([1], 0.6), ([1], -0.4), ([1], "2"), ([1], None), ("x", 2)]
)
def test_array_partition_errors(array, size):
    assert_invalid_arguments(
        "States.ArrayPartition($.a, $.n)", "States.ArrayPartition", {"a": array, "n": size}
    )


@pytest.mark.parametrize(
    ("array", "value", "expected"),
    [
        ([], None, False),
        ([[1, 2, 3], 2], [1, 2, 3], True),
        ([{"1": 2, "2": []}], {"2": [], "1": 2}, True),
        ([True, False], False, True),
        ([1, 2], True, False),  # true is not 1
        ([1.0], 1, False),  # 1.0 and 1 are different JSON numbers for AWS
        ([None], None, True),
    ],
)
def test_array_contains(array, value, expected):
    assert evaluate("States.ArrayContains($.a, $.v)", {"a": array, "v": value}) is expected


def test_array_contains_requires_an_array():
    assert_invalid_arguments("States.ArrayContains($.a, 1)", "States.ArrayContains", {"a": "abc"})


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("1, 9, 2", [1, 3, 5, 7, 9]),
        ("0, 9, 3", [0, 3, 6, 9]),
        ("0, 10, 3", [0, 3, 6, 9]),
        ("1, 9, 9", [1]),
        ("-2, 2, 2", [-2, 0, 2]),
        ("3, 3, -1", [3]),
        ("5, 1, -2", [5, 3, 1]),
        ("5, 1, 1", []),
        ("1, 5, -1", []),
        ("1.4, 5.6, 2.2", [1, 3, 5]),
        ("1.6, 1.4, 1", [1]),
        ("5.4, -0.6, -2.4", [5, 3, 1]),
    ],
)
def test_array_range(arguments, expected):
    assert evaluate(f"States.ArrayRange({arguments})") == expected


def test_array_range_allows_exactly_1000_items():
    assert evaluate("States.ArrayRange(1, 1000, 1)") == list(range(1, 1001))
    assert evaluate("States.ArrayRange(1000, 1, -1)") == list(range(1000, 0, -1))


@pytest.mark.parametrize(
    "arguments",
    [
        "1, 1001, 1",
        "1001, 1, -1",
        "1, 10, 0",
        "1, 10, 0.49",
        "'a', 5, 1",
        "1, 'b', 1",
        "1, 5, 'c'",
        "1, 5, null",
        "true, 5, 1",
    ],
)
def test_array_range_errors(arguments):
    assert_invalid_arguments(f"States.ArrayRange({arguments})", "States.ArrayRange")


@pytest.mark.parametrize(
    ("array", "index", "expected"),
    [
        ([1, 2, 3, 4, 5, 6, 7, 8, 9], 5, 6),
        (["a", "b"], 0, "a"),
        ([None], 0, None),
        ([{"a": 1}, {"b": 2}], 1, {"b": 2}),
        ([10, 20, 30], 1.2, 20),  # AWS truncates a fractional index
        ([], 999, None),  # AWS answers null for any index into an empty array
    ],
)
def test_array_get_item(array, index, expected):
    assert evaluate("States.ArrayGetItem($.a, $.i)", {"a": array, "i": index}) == expected


@pytest.mark.parametrize(
    ("array", "index"), [([10, 20, 30], 3), ([10, 20, 30], -1), ([10], "0"), ("abc", 0), ([1], True)]
)
def test_array_get_item_errors(array, index):
    assert_invalid_arguments("States.ArrayGetItem($.a, $.i)", "States.ArrayGetItem", {"a": array, "i": index})


def test_array_length():
    assert evaluate("States.ArrayLength($.a)", {"a": [1, 2, 3]}) == 3
    assert evaluate("States.ArrayLength($.a)", {"a": []}) == 0
    assert_invalid_arguments("States.ArrayLength($.a)", "States.ArrayLength", {"a": {"k": 1}})


def test_array_unique_keeps_first_occurrences_by_json_equality():
    values = [None, None, True, True, False, 1, 1, 1.1, 0, "Hi", "Hi", [], [], [None], [None],
              {"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1, "b": 1}, 1.0]  # fmt: skip
    assert evaluate("States.ArrayUnique($.a)", {"a": values}) == [
        None, True, False, 1, 1.1, 0, "Hi", [], [None], {"a": 1, "b": 2}, {"a": 1, "b": 1}, 1.0,
    ]  # fmt: skip
    assert_invalid_arguments("States.ArrayUnique($.a)", "States.ArrayUnique", {"a": "x"})


# --------------------------------------------------------------------------------------------------
# Encoding and hashing
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("", ""),
        ("Data to encode", "RGF0YSB0byBlbmNvZGU="),
        ("✓", "4pyT"),
        ("こんにちは", "44GT44KT44Gr44Gh44Gv"),
    ],
)
def test_base64_round_trip(text, encoded):
    assert evaluate("States.Base64Encode($.s)", {"s": text}) == encoded
    assert evaluate("States.Base64Decode($.s)", {"s": encoded}) == text


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [(" YWJjZA== ", "abcd"), ("YWJj", "abc"), ("YWJjAGRlZg==", "abc\x00def"), ("IA==", " "), ("YWI", "ab")],
)
def test_base64_decode_is_lenient_like_aws(encoded, decoded):
    assert evaluate("States.Base64Decode($.s)", {"s": encoded}) == decoded


@pytest.mark.parametrize("function_name", ["States.Base64Encode", "States.Base64Decode"])
def test_base64_input_limit_and_type(function_name):
    assert evaluate(f"{function_name}($.s)", {"s": "A" * 10_000}) is not None
    assert_invalid_arguments(f"{function_name}($.s)", function_name, {"s": "A" * 10_001})
    assert_invalid_arguments(f"{function_name}($.s)", function_name, {"s": 123})
    assert_invalid_arguments(f"{function_name}($.s)", function_name, {"s": {}})


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("MD5", "5d41402abc4b2a76b9719d911017c592"),
        ("SHA-1", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
        ("SHA-256", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
        (
            "SHA-384",
            "59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90125a3c79f90397bdf5f6a13de828684f",
        ),
        (
            "SHA-512",
            "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca7"
            "2323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043",
        ),
    ],
)
def test_hash_algorithms(algorithm, digest):
    assert evaluate(f"States.Hash('hello', '{algorithm}')") == digest


def test_hash_of_unicode_and_limits():
    assert evaluate("States.Hash($.s, 'SHA-256')", {"s": "✓"}) == (
        "1dabba21cdad44541f6b15796f8d22978fc7ea10c46aeceeeeb66c23b3ac7604"
    )
    assert len(evaluate("States.Hash($.s, 'SHA-256')", {"s": "a" * 10_000})) == 64
    assert_invalid_arguments("States.Hash($.s, 'SHA-256')", "States.Hash", {"s": "a" * 10_001})


@pytest.mark.parametrize("algorithm", ["'sha-256'", "'SHA256'", "''", "'MD-5'", "'SHA-257'", "123", "null"])
def test_hash_rejects_unknown_algorithms(algorithm):
    assert_invalid_arguments(f"States.Hash('data', {algorithm})", "States.Hash")


def test_hash_of_a_non_string_hashes_its_json_text():
    # AWS hashes numbers and objects instead of rejecting them.
    assert evaluate("States.Hash(123, 'MD5')") == evaluate("States.Hash('123', 'MD5')")


# --------------------------------------------------------------------------------------------------
# Math, strings, UUID
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (-9, 3, -6),
        (1.49, 1.50, 3),
        (1.50, 1.51, 4),
        (-1.49, -1.50, -2),
        (-1.50, -1.51, -3),
        (1.5, 0, 2),
        (2.5, 0, 3),
        (0.5, 0, 1),
        (-0.5, 0.5, 1),
        (-0.5, 0, 0),
        (-1.5, 0, -1),
        (-2.5, 0, -2),
        (-3.5, 0, -3),
        (111, -1, 110),
    ],
)
def test_math_add_rounds_like_java(first, second, expected):
    assert evaluate("States.MathAdd($.a, $.b)", {"a": first, "b": second}) == expected


@pytest.mark.parametrize(("first", "second"), [(1, "NOT A NUMBER"), (None, 1), (True, 1), ({"count": 1}, 1)])
def test_math_add_errors(first, second):
    assert_invalid_arguments("States.MathAdd($.a, $.b)", "States.MathAdd", {"a": first, "b": second})


def test_math_random_is_in_range_and_seeded_is_repeatable():
    for _ in range(50):
        assert 1 <= evaluate("States.MathRandom(1, 5)") < 5
        assert 1 <= evaluate("States.MathRandom(1.6, 5.4)") < 5
    seeded = {evaluate("States.MathRandom(1, 1000, 42)") for _ in range(5)}
    assert len(seeded) == 1
    assert 1 <= seeded.pop() < 1000
    assert -1000 <= evaluate("States.MathRandom(-1000, 1000, -10)") < 1000


@pytest.mark.parametrize(
    "arguments",
    ["1, 1", "10, 5", "1.49, 1.49", "1.4, 1.6", "'a', 10", "1, 'b'", "1, 10, 'seed'", "1, 10, null"],
)
def test_math_random_errors(arguments):
    assert_invalid_arguments(f"States.MathRandom({arguments})", "States.MathRandom")


@pytest.mark.parametrize(
    ("text", "delimiter", "expected"),
    [
        ("a,b,c", ",", ["a", "b", "c"]),
        (" ", ",", [" "]),
        (",,,,", ",", []),
        ("split on T and \nnew line", "T\n", ["split on ", " and ", "new line"]),
        ("a.b", ".", ["a", "b"]),
        ("a+b]c", "+]", ["a", "b", "c"]),
        ("abc", "", ["abc"]),
        ("", ",", []),
    ],
)
def test_string_split(text, delimiter, expected):
    assert evaluate("States.StringSplit($.s, $.d)", {"s": text, "d": delimiter}) == expected


@pytest.mark.parametrize(("text", "delimiter"), [(1, ","), ("a", None), (["a"], ",")])
def test_string_split_errors(text, delimiter):
    assert_invalid_arguments(
        "States.StringSplit($.s, $.d)", "States.StringSplit", {"s": text, "d": delimiter}
    )


def test_uuid_is_a_fresh_v4_uuid():
    first, second = evaluate("States.UUID()"), evaluate("States.UUID()")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first)
    assert first != second


# --------------------------------------------------------------------------------------------------
# The AWS-recorded conformance cases
# --------------------------------------------------------------------------------------------------


def _recorded_cases() -> list[Path]:
    return sorted(RECORDED_CASES_DIR.glob("intrinsic_functions.*.json"))


def _plain_pass_parameters(definition: dict[str, Any]) -> dict[str, Any] | None:
    """The Parameters of a one-state Pass machine with no other data-flow field, else None."""
    states = definition["States"]
    if len(states) != 1:
        return None
    (state,) = states.values()
    data_flow_fields = {"InputPath", "OutputPath", "ResultPath", "ResultSelector", "Result", "Assign"}
    if state.get("Type") != "Pass" or "Parameters" not in state or data_flow_fields & state.keys():
        return None
    return state["Parameters"]


def _apply_parameters(parameters: dict[str, Any], resolve) -> dict[str, Any]:
    output: dict[str, Any] = {}
    for key, value in parameters.items():
        if key.endswith(".$"):
            output[key[:-2]] = (
                evaluate_intrinsic(parse_intrinsic(value), resolve) if is_intrinsic(value) else resolve(value)
            )
        else:
            output[key] = value
    return output


def test_recorded_cases_are_present():
    if not RECORDED_CASES_DIR.is_dir():
        pytest.skip(f"recorded cases not found at {RECORDED_CASES_DIR}")
    assert len(_recorded_cases()) == 47


@pytest.mark.parametrize("case_path", _recorded_cases(), ids=lambda path: path.stem)
def test_recorded_aws_case(case_path: Path):
    case = json.loads(case_path.read_text())
    parameters = _plain_pass_parameters(case["definition"])
    if parameters is None:
        pytest.skip("not a plain Pass+Parameters case; the interpreter's conformance test covers it")
    context = {"Execution": {"Input": case["input"]}}
    resolve = make_resolver(case["input"], context)
    expected = case["expected"]
    if expected["status"] == "SUCCEEDED":
        assert _apply_parameters(parameters, resolve) == expected["output"]
    else:
        with pytest.raises(IntrinsicError) as raised:
            _apply_parameters(parameters, resolve)
        assert raised.value.error == expected.get("error")
        assert expected.get("cause", "").endswith(raised.value.cause)
