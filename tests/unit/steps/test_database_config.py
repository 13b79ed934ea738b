"""The database step's config rules, identifiers, connection names and driver error classes."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from pydantic import ValidationError
from pymongo import errors as mongo_errors

from orchestrator.domain.validation import validate_workflow
from orchestrator.steps import db_connections, db_mongo, db_sql
from orchestrator.steps.base import StepError
from orchestrator.steps.database import DatabaseConfig
from orchestrator.steps.registry import STEP_TYPES


def test_template_in_sql_is_refused_by_the_model() -> None:
    # Given SQL that splices a template
    # When the config is validated
    with pytest.raises(ValidationError, match="must not contain templates"):
        DatabaseConfig.model_validate({"connection": "main_db", "operation": "query",
                                       "sql": "SELECT * FROM t WHERE name = '{{input.name}}'"})


def test_template_in_sql_is_reported_by_workflow_validation() -> None:
    # Given a workflow whose database step builds SQL from a template
    workflow = {"name": "w", "steps": [{"id": "q", "type": "database", "config": {
        "connection": "main_db", "operation": "query", "sql": "SELECT * FROM t WHERE id = {{input.id}}"}}]}
    # When the workflow is validated (which ignores errors AT template values)
    problems = validate_workflow(workflow, STEP_TYPES)
    # Then the refusal is still reported, because it is a model-level error
    assert any("must not contain templates" in p.message for p in problems), problems


def test_seed_002_database_step_is_valid() -> None:
    # Given seed 002's JSON example step (insert with data from input_mapping)
    workflow = {"name": "sync", "steps": [
        {"id": "transform_data", "type": "script", "config": {"script": "print(1)", "runtime": "python"}},
        {"id": "save_data", "type": "database", "depends_on": ["transform_data"],
         "config": {"operation": "insert", "table": "synced_data", "connection": "main_db"},
         "input_mapping": {"data": "{{steps.transform_data.output.result}}"}}]}
    # Then the database step has no problem
    assert [p for p in validate_workflow(workflow, STEP_TYPES) if "save_data" in p.location] == []


@pytest.mark.parametrize(("config", "message"), [
    ({"operation": "query"}, "needs `sql`"),
    ({"operation": "query", "sql": "SELECT 1", "table": "t"}, "not `table`"),
    ({"operation": "insert"}, "needs `table`"),
    ({"operation": "insert", "table": "t", "collection": "c"}, "not both"),
    ({"operation": "insert", "table": "t", "sql": "INSERT"}, "drop `sql`"),
    ({"operation": "find"}, "needs `collection`"),
    ({"operation": "find", "collection": "c", "sql": "SELECT 1"}, "not `sql`"),
    ({"operation": "truncate", "table": "t"}, "operation"),
    ({"operation": "query", "sql": "SELECT 1", "connection": "main db"}, "pattern"),
])
def test_operation_fields_are_checked(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DatabaseConfig.model_validate({"connection": "main_db", **config})


@pytest.mark.parametrize(("name", "quoted"), [("items", '"items"'), ("app.items", '"app"."items"'),
                                              ("_x1", '"_x1"')])
def test_identifiers_are_quoted(name: str, quoted: str) -> None:
    assert db_sql.quote_identifier(name, "table") == quoted


@pytest.mark.parametrize("name", ['items"; DROP TABLE x; --', "1abc", "a.b.c", "", "naïve", "a-b"])
def test_bad_identifiers_are_refused(name: str) -> None:
    with pytest.raises(StepError) as caught:
        db_sql.quote_identifier(name, "table")
    assert caught.value.error == "Database.InvalidIdentifier" and not caught.value.retryable


def test_connection_env_names() -> None:
    assert db_connections.env_name("main_db") == "ORCHESTRATOR_DB_MAIN_DB"
    assert db_connections.env_name("reports-eu") == "ORCHESTRATOR_DB_REPORTS_EU"


@pytest.mark.parametrize(("url", "kind"), [("sqlite:///a.db", "sqlite"), ("postgresql://h/db", "postgresql"),
                                           ("postgres://h/db", "postgresql"), ("mongodb+srv://c/db", "mongodb")])
def test_url_kinds(url: str, kind: str) -> None:
    assert db_connections.kind_of(url) == kind


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(StepError, match="mysql"):
        db_connections.kind_of("mysql://h/db")


def test_sqlite_paths_follow_sqlalchemy() -> None:
    assert db_connections.sqlite_path("sqlite:///rel/app.db") == "rel/app.db"
    assert db_connections.sqlite_path("sqlite:////abs/app.db") == "/abs/app.db"


def test_url_password_is_extracted_for_scrubbing() -> None:
    assert db_connections.url_password("postgresql://app:p%40ss@h/db") == "p%40ss"
    assert db_connections.url_password("sqlite:///x.db") is None


@pytest.mark.parametrize(("exc", "error", "retryable"), [
    (sqlite3.OperationalError("database is locked"), "Database.Locked", True),
    (sqlite3.OperationalError("unable to open database file"), "Database.Connection", True),
    (sqlite3.OperationalError('near "SELEC": syntax error'), "Database.SqlError", False),
    (sqlite3.IntegrityError("UNIQUE constraint failed: items.name"), "Database.Constraint", False),
    (sqlite3.ProgrammingError("You can only execute one statement at a time."), "Database.SqlError", False),
])
def test_sqlite_errors_are_classified(exc: Exception, error: str, retryable: bool) -> None:
    classified = db_sql.classify(exc)
    assert classified is not None and (classified.error, classified.retryable) == (error, retryable)


@pytest.mark.parametrize(("exc", "error", "retryable"), [
    (mongo_errors.DuplicateKeyError("E11000 duplicate key"), "Database.Constraint", False),
    (mongo_errors.ServerSelectionTimeoutError("no servers"), "Database.Timeout", True),
    (mongo_errors.AutoReconnect("connection reset"), "Database.Connection", True),
    (mongo_errors.ExecutionTimeout("operation exceeded time limit", code=50), "Database.Timeout", True),
    (mongo_errors.OperationFailure("unknown operator: $foo", code=2), "Database.OperationFailed", False),
    (mongo_errors.InvalidDocument("cannot encode object"), "Database.InvalidRequest", False),
])
def test_mongo_errors_are_classified(exc: Exception, error: str, retryable: bool) -> None:
    classified = db_mongo.classify(exc)
    assert classified is not None and (classified.error, classified.retryable) == (error, retryable)


def test_other_exceptions_are_not_database_errors() -> None:
    assert db_sql.classify(ValueError("x")) is None and db_mongo.classify(ValueError("x")) is None


def test_extended_json_becomes_bson_types() -> None:
    from bson import ObjectId

    oid = ObjectId()
    value = db_mongo.from_extended_json({"_id": {"$oid": str(oid)}, "in": [{"$oid": str(oid)}], "n": 1})
    assert value == {"_id": oid, "in": [oid], "n": 1}
