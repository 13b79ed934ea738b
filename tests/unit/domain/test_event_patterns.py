"""EventBridge event patterns: the examples of Amazon's "Content filtering in Amazon EventBridge event
patterns", "Comparison operators", "Arrays" and "Null values and empty strings" pages, and of
aws/event-ruler's README (the matcher EventBridge runs), as a table: pattern, event, expected match."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from orchestrator.domain.event_patterns import (
    InvalidEventPattern,
    compile_pattern,
    matches,
    validate_pattern,
)

# the sample event of the docs and of event-ruler's README
EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "012345679012",
    "time": "2017-10-02T16:24:49Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
    "detail": {
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        "state": "running",
    },
}


def ec2_event(**detail_changes: Any) -> dict[str, Any]:
    """The sample event with some detail fields replaced (a value of ``...`` removes the field)."""
    event = copy.deepcopy(EC2_EVENT)
    for key, value in detail_changes.items():
        key = key.replace("_", "-")
        if value is ...:
            event["detail"].pop(key, None)
        else:
            event["detail"][key] = value
    return event


def event_with(**fields: Any) -> dict[str, Any]:
    return {key.replace("_", "-"): value for key, value in fields.items()}


# the docs' "null values and empty strings" event
AUTOSCALING_EVENT = {
    "version": "0",
    "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
    "detail-type": "EC2 Instance Launch Successful",
    "source": "aws.autoscaling",
    "account": "123456789012",
    "time": "2015-11-11T21:31:47Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {"eventVersion": "", "responseElements": None},
}

EMPLOYEES = {
    "employees": [
        {"firstName": "John", "lastName": "Doe"},
        {"firstName": "Anna", "lastName": "Smith"},
        {"firstName": "Peter", "lastName": "Jones"},
    ]
}

CLOUDWATCH_OR = {
    "source": ["aws.cloudwatch"],
    "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}],
}

COMPLEX = {
    "time": [{"prefix": "2017-10-02"}],
    "detail": {
        "state": [{"anything-but": "initializing"}],
        "c-count": [{"numeric": [">", 0, "<=", 5]}],
        "d-count": [{"numeric": ["<", 10]}],
        "x-limit": [{"anything-but": [100, 200, 300]}],
        "source-ip": [{"cidr": "10.0.0.0/8"}],
    },
}

CASES = [
    # --- matching event values; AND across fields, OR within a list ----------------------------------
    ("simple match", {"detail-type": ["EC2 Instance State-change Notification"],
                      "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
                      "detail": {"state": ["initializing", "running"]}}, EC2_EVENT, True),
    ("one field differs", {"source": ["aws.ec2"], "detail": {"state": ["terminated"]}}, EC2_EVENT, False),
    ("OR within a list", {"source": ["aws.ec2", "aws.fargate"]}, EC2_EVENT, True),
    ("field missing from the event", {"detail": {"nope": ["x"]}}, EC2_EVENT, False),
    ("And: Location and Day", {"Location": ["New York"], "Day": ["Monday"]},
     event_with(Location="New York", Day="Monday"), True),
    ("And: one of them differs", {"Location": ["New York"], "Day": ["Monday"]},
     event_with(Location="New York", Day="Tuesday"), False),
    ("Equals", {"Name": ["Alice"]}, event_with(Name="Alice"), True),
    ("Equals is case-sensitive", {"Name": ["Alice"]}, event_with(Name="alice"), False),
    # --- prefix / suffix / equals-ignore-case / wildcard ----------------------------------------------
    ("prefix", {"time": [{"prefix": "2017-10-02"}]}, EC2_EVENT, True),
    ("prefix, other day", {"time": [{"prefix": "2017-10-03"}]}, EC2_EVENT, False),
    ("prefix: European regions", {"source": ["aws.autoscaling"], "region": [{"prefix": "eu-"}]},
     {**AUTOSCALING_EVENT, "region": "eu-west-1"}, True),
    ("prefix: not European", {"source": ["aws.autoscaling"], "region": [{"prefix": "eu-"}]},
     AUTOSCALING_EVENT, False),
    ("prefix only on strings", {"detail": {"c-count": [{"prefix": "5"}]}}, EC2_EVENT, False),
    ("Begins with (ignore case)", {"service": [{"prefix": {"equals-ignore-case": "eventb"}}]},
     event_with(service="EventBridge"), True),
    ("Begins with (ignore case), no", {"service": [{"prefix": {"equals-ignore-case": "eventb"}}]},
     event_with(service="SNS"), False),
    ("suffix", {"source": [{"suffix": "ec2"}]}, EC2_EVENT, True),
    ("Ends with", {"FileName": [{"suffix": ".png"}]}, event_with(FileName="photo.png"), True),
    ("Ends with is case-sensitive", {"FileName": [{"suffix": ".png"}]}, event_with(FileName="photo.PNG"), False),
    ("Ends with (ignore case)", {"service": [{"suffix": {"equals-ignore-case": "tBridge"}}]},
     event_with(service="EVENTBRIDGE"), True),
    ("Equals (ignore case)", {"Name": [{"equals-ignore-case": "alice"}]}, event_with(Name="ALICE"), True),
    ("Equals (ignore case), other name", {"Name": [{"equals-ignore-case": "alice"}]}, event_with(Name="Bob"), False),
    ("wildcard", {"source": [{"wildcard": "Simple*Service"}]}, event_with(source="SimpleQueueService"), True),
    ("wildcard matches the whole value", {"source": [{"wildcard": "Simple*Service"}]},
     event_with(source="SimpleQueueServices"), False),
    ("Wildcard: .png in dir", {"FileName": [{"wildcard": "dir/*.png"}]}, event_with(FileName="dir/a/b.png"), True),
    ("Wildcard: elsewhere", {"FileName": [{"wildcard": "dir/*.png"}]}, event_with(FileName="other/b.png"), False),
    ("wildcard: escaped star is literal", {"k": [{"wildcard": "a\\*b"}]}, event_with(k="a*b"), True),
    ("wildcard: escaped star is not a wildcard", {"k": [{"wildcard": "a\\*b"}]}, event_with(k="axb"), False),
    ("wildcard: escaped backslash", {"k": [{"wildcard": "C:\\\\*"}]}, event_with(k="C:\\Windows"), True),
    # --- anything-but --------------------------------------------------------------------------------
    ("anything-but string", {"detail": {"state": [{"anything-but": "initializing"}]}}, EC2_EVENT, True),
    ("anything-but string, excluded", {"detail": {"state": [{"anything-but": "initializing"}]}},
     ec2_event(state="initializing"), False),
    ("anything-but number", {"detail": {"x-limit": [{"anything-but": 123}]}}, EC2_EVENT, True),
    ("anything-but number, excluded", {"detail": {"x-limit": [{"anything-but": 123}]}}, ec2_event(x_limit=123), False),
    ("anything-but string list", {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}, EC2_EVENT, True),
    ("anything-but string list, excluded", {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}},
     ec2_event(state="overloaded"), False),
    ("anything-but number list", {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}, EC2_EVENT, True),
    ("anything-but number list, excluded", {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}},
     ec2_event(x_limit=300.0), False),
    ("anything-but prefix", {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}, EC2_EVENT, True),
    ("anything-but prefix, excluded", {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}},
     ec2_event(state="initializing"), False),
    ("anything-but: not CloudTrail", {"detail-type": [{"anything-but": "AWS API Call via CloudTrail"}]}, EC2_EVENT, True),
    ("anything-but: not EC2 or S3", {"source": [{"anything-but": ["aws.ec2", "aws.s3"]}]}, EC2_EVENT, False),
    ("anything-but: own events only", {"source": [{"anything-but": {"prefix": "aws."}}]},
     event_with(source="com.example.orders"), True),
    ("anything-but: AWS events excluded", {"source": [{"anything-but": {"prefix": "aws."}}]}, EC2_EVENT, False),
    ("Anything-but (begins with): not the US", {"Region": [{"anything-but": {"prefix": "us-"}}]},
     event_with(Region="eu-central-1"), True),
    ("Anything-but (ends with)", {"FileName": [{"anything-but": {"suffix": ".png"}}]}, event_with(FileName="a.jpg"), True),
    ("Anything-but (ends with), excluded", {"FileName": [{"anything-but": {"suffix": ".png"}}]},
     event_with(FileName="a.png"), False),
    ("Anything-but (ignore case)", {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
     event_with(state="INITIALIZING"), False),
    ("Anything-but (ignore case), list", {"state": [{"anything-but": {"equals-ignore-case": ["a", "B"]}}]},
     event_with(state="c"), True),
    ("Anything-but using a wildcard", {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
     event_with(FilePath="/usr/lib/x.so"), False),
    ("Anything-but using a wildcard, other path", {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
     event_with(FilePath="/usr/bin/x"), True),
    ("Not: Weather anything but Raining", {"Weather": [{"anything-but": ["Raining"]}]}, event_with(Weather="Sunny"), True),
    ("anything-but needs the field", {"Weather": [{"anything-but": ["Raining"]}]}, event_with(City="Paris"), False),
    ("anything-but matches other types", {"Weather": [{"anything-but": "Raining"}]}, event_with(Weather=None), True),
    ("anything-but over an array: one element passes", {"state": [{"anything-but": "stopped"}]},
     event_with(state=["stopped", "running"]), True),
    # --- numeric -------------------------------------------------------------------------------------
    ("numeric: every field in range", {"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}],
                                                  "d-count": [{"numeric": ["<", 10]}],
                                                  "x-limit": [{"numeric": ["=", 3.018e2]}]}}, EC2_EVENT, True),
    ("numeric: upper bound is inclusive", {"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}},
     ec2_event(c_count=5), True),
    ("numeric: above the range", {"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}, ec2_event(c_count=6), False),
    ("numeric: lower bound is exclusive", {"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}},
     ec2_event(c_count=0), False),
    ("numeric: >= bound", {"n": [{"numeric": [">=", 0]}]}, event_with(n=0), True),
    ("numeric: strings are not numbers", {"detail": {"d-count": [{"numeric": ["<", 10]}]}}, ec2_event(d_count="3"), False),
    ("numeric: booleans are not numbers", {"n": [{"numeric": ["<", 10]}]}, event_with(n=True), False),
    ("Numeric (equals)", {"Price": [{"numeric": ["=", 100]}]}, event_with(Price=100), True),
    ("Numeric (range)", {"Price": [{"numeric": [">", 10, "<=", 20]}]}, event_with(Price=15.5), True),
    ("Numeric (range), out", {"Price": [{"numeric": [">", 10, "<=", 20]}]}, event_with(Price=10), False),
    ("exact numbers compare as numbers", {"Price": [300]}, event_with(Price=3.0e2), True),
    # --- IP addresses --------------------------------------------------------------------------------
    ("cidr", {"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, EC2_EVENT, True),
    ("cidr, outside", {"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, ec2_event(source_ip="10.0.1.1"), False),
    ("cidr, not an address", {"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, ec2_event(source_ip="nope"), False),
    ("cidr, IPv6", {"ip": [{"cidr": "2001:db8::/32"}]}, event_with(ip="2001:db8::1"), True),
    ("cidr, IPv4 is not in an IPv6 range", {"ip": [{"cidr": "2001:db8::/32"}]}, event_with(ip="10.0.0.1"), False),
    # --- exists --------------------------------------------------------------------------------------
    ("exists false: no field", {"detail": {"c-count": [{"exists": False}]}}, ec2_event(c_count=...), True),
    ("exists false: the field is there", {"detail": {"c-count": [{"exists": False}]}}, EC2_EVENT, False),
    ("exists false: an object is not a leaf", {"detail": {"c-count": [{"exists": False}]}},
     ec2_event(c_count={"c1": 100}), True),
    ("exists false: the parent is missing too", {"detail": {"c-count": [{"exists": False}]}}, {"source": "x"}, True),
    ("exists true", {"detail": {"description": [{"exists": True}]}}, ec2_event(description="a box"), True),
    ("exists true: missing", {"detail": {"description": [{"exists": True}]}}, EC2_EVENT, False),
    ("Exists: ProductName", {"ProductName": [{"exists": True}]}, event_with(ProductName="Widget"), True),
    ("Does not exist: ProductName", {"ProductName": [{"exists": False}]}, event_with(Name="x"), True),
    ("exists true: null is a value", {"UserID": [{"exists": True}]}, event_with(UserID=None), True),
    ("exists true: an empty array has no value", {"resources": [{"exists": True}]}, AUTOSCALING_EVENT, False),
    ("exists false: an empty array has no value", {"resources": [{"exists": False}]}, AUTOSCALING_EVENT, True),
    # --- null and empty strings ----------------------------------------------------------------------
    ("empty string", {"detail": {"eventVersion": [""]}}, AUTOSCALING_EVENT, True),
    ("null", {"detail": {"responseElements": [None]}}, AUTOSCALING_EVENT, True),
    ("empty string does not match null", {"detail": {"responseElements": [""]}}, AUTOSCALING_EVENT, False),
    ("null does not match an empty string", {"detail": {"eventVersion": [None]}}, AUTOSCALING_EVENT, False),
    ("Null: UserID is null", {"UserID": [None]}, event_with(UserID=None), True),
    ("Empty: LastName is empty", {"LastName": [""]}, event_with(LastName=""), True),
    ("true is not 1", {"flag": [True]}, event_with(flag=1), False),
    ("1 is not true", {"flag": [1]}, event_with(flag=True), False),
    ("true", {"flag": [True]}, event_with(flag=True), True),
    # --- arrays --------------------------------------------------------------------------------------
    ("arrays: the lists intersect", {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
                                                   "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]},
     {"resources": ["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b:autoScalingGroupName/ASG",
                    "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}, True),
    ("arrays: no common value", {"resources": ["a", "b"]}, {"resources": ["c", "d"]}, False),
    ("arrays of objects", {"employees": {"firstName": ["Anna"]}}, EMPLOYEES, True),
    ("arrays of objects: fields of one element", {"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}},
     EMPLOYEES, True),
    ("arrays of objects: never across elements", {"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}},
     EMPLOYEES, False),
    ("arrays of arrays are flattened", {"employees": {"firstName": ["Peter"]}},
     {"employees": [[EMPLOYEES["employees"][0]], [EMPLOYEES["employees"][2]]]}, True),
    ("nested pattern over a scalar", {"detail": {"state": ["running"]}}, {"detail": "running"}, False),
    # --- $or -----------------------------------------------------------------------------------------
    ("$or: first branch", CLOUDWATCH_OR, {"source": "aws.cloudwatch", "metricName": "CPUUtilization"}, True),
    ("$or: second branch", CLOUDWATCH_OR, {"source": "aws.cloudwatch", "namespace": "AWS/ES"}, True),
    ("$or: no branch", CLOUDWATCH_OR, {"source": "aws.cloudwatch", "namespace": "AWS/S3"}, False),
    ("$or: the AND outside still applies", CLOUDWATCH_OR, {"source": "aws.s3", "metricName": "CPUUtilization"}, False),
    ("Or: Location or Day", {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
     event_with(Location="Paris", Day="Monday"), True),
    ("Or: PaymentType Credit or Debit", {"PaymentType": ["Credit", "Debit"]}, event_with(PaymentType="Debit"), True),
    ("$or: an AND inside, nested $or", {
        "source": ["aws.cloudwatch"],
        "$or": [
            {"metricName": ["CPUUtilization"]},
            {"metricType": ["MetricType"], "namespace": ["AWS/EC2"],
             "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]},
        ],
    }, {"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 1000}, True),
    ("$or: nested $or fails", {
        "source": ["aws.cloudwatch"],
        "$or": [
            {"metricName": ["CPUUtilization"]},
            {"metricType": ["MetricType"], "namespace": ["AWS/EC2"],
             "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]},
        ],
    }, {"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 7}, False),
    ("$or inside a nested object", {"detail": {"$or": [{"c-count": [{"numeric": [">", 100]}]},
                                                       {"state": ["running"]}]}}, EC2_EVENT, True),
    # --- everything together -------------------------------------------------------------------------
    ("complex example", COMPLEX, EC2_EVENT, True),
    ("complex example, one condition fails", COMPLEX, ec2_event(x_limit=200), False),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_documented_examples(pattern, event, expected):
    # Given a valid pattern (EventBridge accepts it)
    assert validate_pattern(pattern) == []
    # When the event is matched / Then the outcome is the documented one
    assert matches(pattern, event) is expected


def test_a_compiled_pattern_matches_many_events():
    # Given a pattern compiled once / When it matches several events / Then each gets its own answer
    pattern = compile_pattern({"detail": {"state": ["running"]}})
    assert pattern.matches(EC2_EVENT)
    assert not pattern.matches(ec2_event(state="stopped"))


def test_the_event_is_not_changed():
    # Given an event / When matched / Then it is left as it was
    event = copy.deepcopy(EC2_EVENT)
    matches(COMPLEX, event)
    assert event == EC2_EVENT


def test_an_event_must_be_an_object():
    with pytest.raises(TypeError, match="an event is a JSON object"):
        matches({"source": ["x"]}, ["not", "an", "event"])  # type: ignore[arg-type]


INVALID = [
    ("not an object", ["source"], "pattern: an event pattern is a JSON object"),
    ("empty pattern", {}, "pattern: an object in a pattern must name at least one field"),
    ("empty nested object", {"detail": {}}, "detail: an object in a pattern must name at least one field"),
    ("a bare value", {"source": "aws.ec2"}, 'source: must be a list of values (e.g. ["aws.ec2"])'),
    ("an empty list", {"source": []}, "source: an empty list matches nothing"),
    ("a list in a list", {"source": [["a"]]}, "source[0]: a list inside a value list is not allowed"),
    ("two keys in a matcher", {"k": [{"prefix": "a", "suffix": "b"}]}, "k[0]: a matcher has exactly one key"),
    ("unknown matcher", {"k": [{"contains": "a"}]}, "k[0]: unknown matcher 'contains'"),
    ("prefix of a number", {"k": [{"prefix": 1}]}, "k[0]: prefix takes a string, not 1"),
    ("prefix ignore-case of a number", {"k": [{"prefix": {"equals-ignore-case": 1}}]},
     "prefix.equals-ignore-case takes a string"),
    ("equals-ignore-case of a list", {"k": [{"equals-ignore-case": ["a"]}]}, "equals-ignore-case takes a string"),
    ("wildcard with **", {"k": [{"wildcard": "a**b"}]}, "k[0]: wildcard 'a**b' has consecutive '*' characters"),
    ("wildcard bad escape", {"k": [{"wildcard": "a\\b"}]}, "a backslash may only escape"),
    ("wildcard trailing backslash", {"k": [{"wildcard": "a\\"}]}, "a backslash may only escape"),
    ("numeric: not a list", {"k": [{"numeric": 5}]}, "k[0]: numeric takes"),
    ("numeric: missing bound", {"k": [{"numeric": [">"]}]}, "k[0]: numeric takes"),
    ("numeric: unknown operator", {"k": [{"numeric": ["!=", 1]}]}, "unknown numeric operator \"!=\""),
    ("numeric: bound is text", {"k": [{"numeric": [">", "5"]}]}, "the bound of '>' must be a number from -5e9 to 5e9"),
    ("numeric: bound is true", {"k": [{"numeric": [">", True]}]}, "the bound of '>' must be a number from -5e9 to 5e9"),
    ("numeric: bound is huge", {"k": [{"numeric": [">", 10 ** 400]}]}, "the bound of '>' must be a number from -5e9 to 5e9"),
    ("anything-but: a huge number", {"k": [{"anything-but": [1, 10 ** 400]}]}, "anything-but takes a string, a number"),
    ("numeric: upper then lower", {"k": [{"numeric": ["<", 5, ">", 0]}]}, "a lower bound then an upper bound"),
    ("numeric: = in a range", {"k": [{"numeric": ["=", 5, "<", 9]}]}, "a lower bound then an upper bound"),
    ("numeric: empty range", {"k": [{"numeric": [">", 5, "<", 1]}]}, "the numeric range is empty: 5 is not below 1"),
    ("cidr without a length", {"k": [{"cidr": "10.0.0.1"}]}, "cidr '10.0.0.1' is not an IP range"),
    ("cidr not an address", {"k": [{"cidr": "300.0.0.0/8"}]}, "cidr '300.0.0.0/8' is not an IP range"),
    ("exists not a boolean", {"k": [{"exists": "yes"}]}, "k[0]: exists takes true or false"),
    ("anything-but: mixed list", {"k": [{"anything-but": [1, "a"]}]}, "only strings or only numbers"),
    ("anything-but: empty list", {"k": [{"anything-but": []}]}, "only strings or only numbers"),
    ("anything-but: null", {"k": [{"anything-but": None}]}, "only strings or only numbers"),
    ("anything-but: unknown form", {"k": [{"anything-but": {"contains": "x"}}]},
     "anything-but takes an object with one of: prefix, suffix, equals-ignore-case, wildcard"),
    ("anything-but: empty prefix", {"k": [{"anything-but": {"prefix": ""}}]}, "anything-but prefix must not be empty"),
    ("anything-but: prefix list", {"k": [{"anything-but": {"prefix": ["a"]}}]}, "prefix takes a string"),
    ("anything-but: ignore-case numbers", {"k": [{"anything-but": {"equals-ignore-case": [1]}}]},
     "equals-ignore-case takes a string or a non-empty list of strings"),
    ("anything-but: bad wildcard", {"k": [{"anything-but": {"wildcard": "**"}}]}, "consecutive '*'"),
    ("$or with one branch", {"$or": [{"a": ["x"]}]}, "$or: $or takes a list of at least two pattern objects"),
    ("$or not a list", {"$or": {"a": ["x"]}}, "$or takes a list of at least two pattern objects"),
    ("$or branch not an object", {"$or": [{"a": ["x"]}, "b"]}, "$or[1]: each $or branch is a pattern object"),
    ("matcher name inside $or", {"$or": [{"prefix": ["x"]}, {"b": ["y"]}]},
     "$or[0].prefix: 'prefix' is a matcher name and cannot be a field name inside $or"),
    ("an infinite number", {"k": [float("inf")]}, "k[0]: numbers must be finite"),
    ("a date from YAML", {"day": [date(2024, 5, 1)]}, "day[0]: values are strings, numbers, true, false or null, not date"),
    ("a number as a field name", {200: ["ok"]}, "200: field names are strings; quote 200"),
]


@pytest.mark.parametrize(("pattern", "problem"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_invalid_patterns_are_reported_with_where_and_why(pattern, problem):
    # Given a pattern EventBridge refuses / When validated / Then the problem names the place and the fix
    problems = validate_pattern(pattern)
    assert any(problem in reported for reported in problems), problems
    # and matching with it refuses too
    with pytest.raises(InvalidEventPattern):
        matches(pattern, EC2_EVENT)


def test_every_problem_is_reported_at_once():
    # Given a pattern with two mistakes in different places
    pattern = {"source": [], "detail": {"c-count": [{"numeric": [">"]}], "ok": ["x"]}}
    # When validated / Then both are listed, each at its path
    problems = validate_pattern(pattern)
    assert len(problems) == 2
    assert problems[0].startswith("source: ")
    assert problems[1].startswith("detail.c-count[0]: ")


def test_the_exception_carries_the_problems():
    with pytest.raises(InvalidEventPattern) as raised:
        compile_pattern({"source": "aws.ec2"})
    assert raised.value.problems == ['source: must be a list of values (e.g. ["aws.ec2"]) or an object of fields']
    assert "invalid event pattern" in str(raised.value)
