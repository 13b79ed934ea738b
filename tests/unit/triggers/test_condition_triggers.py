"""Condition triggers: a polled HTTP or SQL source, an expression over it, a fire on each false -> true edge."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.domain.records import TriggerType, WorkflowStatus
from orchestrator.services.condition_sources import HttpSource, SqlSource, parse_condition_source
from orchestrator.services.trigger_errors import InvalidTriggerConfig
from orchestrator.steps import db_connections
from support.local_http import LocalHttpServer, Reply
from support.triggers import T0, DictSecrets, SettableClock, TriggerWorld, a_trigger, a_workflow, build_world

MINUTE = timedelta(minutes=1)


class QueueDepth:
    """A status endpoint whose answer the test changes: GET /queue -> {"depth": n}."""

    def __init__(self, server: LocalHttpServer, depth: int = 0) -> None:
        self.depth = depth
        self.status = 200
        self.server = server
        server.route("GET", "/queue", lambda request: Reply(self.status, json_body={"depth": self.depth}))

    @property
    def url(self) -> str:
        return self.server.url("/queue")

    @property
    def reads(self) -> int:
        return len(self.server.requests_to("/queue"))


def deep_queue(url: str, interval: str = "1m") -> dict[str, str]:
    return {"source": url, "expression": "source.depth > variables.limit", "interval": interval}


def poll_at(world: TriggerWorld, offset: timedelta) -> list:
    world.clock.now = T0 + offset
    return world.service.poll_conditions()


def test_an_http_condition_fires_once_each_time_it_turns_true(world: TriggerWorld, local_http: LocalHttpServer) -> None:
    # Given a workflow with limit 100 and a condition on the depth of a queue, polled every minute
    queue = QueueDepth(local_http, depth=5)
    workflow = a_workflow(world.store, variables={"limit": 100})
    trigger = a_trigger(world, workflow, TriggerType.CONDITION, deep_queue(queue.url))
    # When the depth stays low, then crosses the limit and stays there, drops, and crosses again
    assert poll_at(world, 0 * MINUTE) == []
    queue.depth = 150
    crossed = poll_at(world, 1 * MINUTE)
    assert poll_at(world, 2 * MINUTE) == []
    queue.depth = 10
    assert poll_at(world, 3 * MINUTE) == []
    queue.depth = 101
    crossed_again = poll_at(world, 4 * MINUTE)
    # Then it fired on each crossing only, with what it read as input
    assert [execution.input for execution in crossed + crossed_again] == [
        {"trigger_id": trigger.id, "checked_at": "2024-05-01T09:01:00.000+00:00", "source": {"depth": 150}},
        {"trigger_id": trigger.id, "checked_at": "2024-05-01T09:04:00.000+00:00", "source": {"depth": 101}},
    ]
    stored = world.store.get_trigger(trigger.id)
    assert (stored.trigger_count, stored.last_triggered) == (2, T0 + 4 * MINUTE)
    assert queue.reads == 5


def test_a_condition_is_read_once_per_interval(world: TriggerWorld, local_http: LocalHttpServer) -> None:
    queue = QueueDepth(local_http)
    a_trigger(world, a_workflow(world.store, variables={"limit": 1}), TriggerType.CONDITION,
              deep_queue(queue.url, interval="5m"))
    for seconds in (0, 30, 60, 299):
        poll_at(world, timedelta(seconds=seconds))
    assert queue.reads == 1
    poll_at(world, timedelta(seconds=300))
    assert queue.reads == 2


def test_a_condition_already_true_when_first_seen_fires(world: TriggerWorld, local_http: LocalHttpServer) -> None:
    queue = QueueDepth(local_http, depth=500)
    a_trigger(world, a_workflow(world.store, variables={"limit": 100}), TriggerType.CONDITION, deep_queue(queue.url))
    assert len(poll_at(world, 0 * MINUTE)) == 1


def test_a_failed_read_neither_fires_nor_rearms_the_edge(world: TriggerWorld, local_http: LocalHttpServer) -> None:
    # Given a condition that is true and has fired
    queue = QueueDepth(local_http, depth=500)
    trigger = a_trigger(world, a_workflow(world.store, variables={"limit": 100}), TriggerType.CONDITION,
                        deep_queue(queue.url))
    assert len(poll_at(world, 0 * MINUTE)) == 1
    # When the source fails for a while, then answers true again
    queue.status = 503
    assert poll_at(world, 1 * MINUTE) == []
    state = world.service.condition_state(trigger.id)
    assert state["value"] is True and "Condition.503" in state["error"]
    queue.status = 200
    # Then the outage did not count as "false": no second fire
    assert poll_at(world, 2 * MINUTE) == []
    assert world.service.condition_state(trigger.id)["error"] is None


def test_an_expression_that_cannot_be_evaluated_on_the_data_is_recorded(world: TriggerWorld,
                                                                        local_http: LocalHttpServer) -> None:
    queue = QueueDepth(local_http)
    trigger = a_trigger(world, a_workflow(world.store), TriggerType.CONDITION,
                        {"source": queue.url, "expression": "source.backlog > 3"})
    assert poll_at(world, 0 * MINUTE) == []
    assert "backlog" in world.service.condition_state(trigger.id)["error"]


def test_changing_the_expression_starts_the_edge_again(world: TriggerWorld, local_http: LocalHttpServer) -> None:
    queue = QueueDepth(local_http, depth=500)
    workflow = a_workflow(world.store, variables={"limit": 100})
    trigger = a_trigger(world, workflow, TriggerType.CONDITION, deep_queue(queue.url))
    assert len(poll_at(world, 0 * MINUTE)) == 1
    # When the user edits the expression (still true on the data), Then it fires for the new condition
    edited = world.store.update_trigger(trigger.id, config={**deep_queue(queue.url), "expression": "source.depth > 200"})
    world.service.on_trigger_saved(edited)
    assert len(poll_at(world, 0 * MINUTE + timedelta(seconds=1))) == 1


def test_conditions_of_inactive_workflows_are_not_polled(world: TriggerWorld, local_http: LocalHttpServer) -> None:
    queue = QueueDepth(local_http, depth=500)
    a_trigger(world, a_workflow(world.store, status=WorkflowStatus.PAUSED, variables={"limit": 1}),
              TriggerType.CONDITION, deep_queue(queue.url))
    a_trigger(world, a_workflow(world.store, variables={"limit": 1}), TriggerType.CONDITION, deep_queue(queue.url),
              is_enabled=False)
    assert poll_at(world, 0 * MINUTE) == []
    assert queue.reads == 0


def test_two_services_polling_one_database_read_and_fire_once(tmp_path: Path, clock: SettableClock,
                                                              local_http: LocalHttpServer) -> None:
    # Given two processes' services on one SQLite file and a condition that is true
    queue = QueueDepth(local_http, depth=500)
    path = tmp_path / "orchestrator.db"
    stores = [SqliteStore(path), SqliteStore(path)]
    worlds = [build_world(store, clock) for store in stores]
    a_trigger(worlds[0], a_workflow(stores[0], variables={"limit": 100}), TriggerType.CONDITION, deep_queue(queue.url))
    # When both poll at the same moment
    barrier = threading.Barrier(2)

    def poll(world: TriggerWorld) -> None:
        barrier.wait()
        world.service.poll_conditions()

    threads = [threading.Thread(target=poll, args=(world,)) for world in worlds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then the source was read once and one execution started
    assert queue.reads == 1
    assert len(worlds[0].executions()) == 1
    for store in stores:
        store.close()


@pytest.fixture
def jobs_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A SQLite database configured as the connection ``jobs``, with an empty ``jobs`` table."""
    path = tmp_path / "jobs.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, state TEXT NOT NULL)")
    monkeypatch.setenv("ORCHESTRATOR_DB_JOBS", f"sqlite:///{path}")
    yield path
    db_connections.reset()


def add_job(path: Path, state: str) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO jobs (state) VALUES (?)", (state,))


def test_a_sql_condition_fires_when_its_query_turns_true(world: TriggerWorld, jobs_database: Path) -> None:
    # Given the operator's condition on the count of failed jobs in the operator's connection
    trigger = a_trigger(world, a_workflow(world.store, owner_id="admin"), TriggerType.CONDITION, {
        "source": "db://jobs?sql=SELECT count(*) AS failed FROM jobs WHERE state = 'failed'",
        "expression": "source.rows[0].failed >= 2",
        "interval": "30s",
    })
    # When failures accumulate
    add_job(jobs_database, "failed")
    assert poll_at(world, timedelta(seconds=0)) == []
    add_job(jobs_database, "done")
    add_job(jobs_database, "failed")
    fired = poll_at(world, timedelta(seconds=30))
    # Then it fired once the count reached two, with the query's rows as its input
    assert [execution.input["source"] for execution in fired] == [
        {"rows": [{"failed": 2}], "row_count": 1, "truncated": False}]
    assert world.store.get_trigger(trigger.id).trigger_count == 1


def test_an_unconfigured_connection_is_reported_not_raised(world: TriggerWorld) -> None:
    trigger = a_trigger(world, a_workflow(world.store, owner_id="admin"), TriggerType.CONDITION,
                        {"source": "db://nowhere?sql=SELECT 1 AS one", "expression": "source.rows[0].one == 1"})
    assert poll_at(world, 0 * MINUTE) == []
    assert "ORCHESTRATOR_DB_NOWHERE" in world.service.condition_state(trigger.id)["error"]


def test_a_tenants_condition_cannot_read_the_operators_connection(world: TriggerWorld, jobs_database: Path) -> None:
    # Given the operator's connection `jobs` (a SQLite file) and a tenant's condition naming it
    add_job(jobs_database, "failed")
    trigger = a_trigger(world, a_workflow(world.store, owner_id="alice"), TriggerType.CONDITION, {
        "source": "db://jobs?sql=SELECT count(*) AS failed FROM jobs", "expression": "source.rows[0].failed >= 1"})
    # When it is polled / Then it does not fire, and the error points at the tenant's own secret only
    assert poll_at(world, 0 * MINUTE) == []
    error = world.service.condition_state(trigger.id)["error"]
    assert "secret DB_JOBS" in error and "ORCHESTRATOR_DB_JOBS" not in error
    # And with its own secret naming a SQLite file it is still refused: the server's disk is not a tenant's
    world.secrets.values["DB_JOBS"] = f"sqlite:///{jobs_database}"
    assert poll_at(world, 1 * MINUTE) == []
    assert "Database.Forbidden" in world.service.condition_state(trigger.id)["error"]


@pytest.mark.parametrize(("source", "problem"), [
    ("ftp://files.example.com/status", "unsupported source"),
    ("db://jobs", "has no query"),
    ("db://jobs?sql=DELETE FROM jobs", "read query"),
    ("db://bad name?sql=SELECT 1", "not a connection name"),
    ("db://jobs?sql=SELECT * FROM t WHERE id = {{variables.id}}", "templates"),
    ("https://", "URL"),
])
def test_sources_of_unknown_form_are_refused_when_saved(world: TriggerWorld, source: str, problem: str) -> None:
    with pytest.raises(InvalidTriggerConfig, match=problem):
        a_trigger(world, a_workflow(world.store), TriggerType.CONDITION, {"source": source, "expression": "True"})


def test_source_forms() -> None:
    assert parse_condition_source(" https://status.example.com/q?x=1 ") == HttpSource("https://status.example.com/q?x=1")
    assert parse_condition_source("http://{{variables.host}}/q") == HttpSource("http://{{variables.host}}/q")
    # the SQL is literal: '+', '&' and '%' keep their meaning
    assert parse_condition_source("db://main_db?sql=SELECT a+b FROM t WHERE n LIKE 'x%' AND c = '&'") == SqlSource(
        "main_db", "SELECT a+b FROM t WHERE n LIKE 'x%' AND c = '&'")


def test_an_http_source_url_may_use_variables_and_secrets(store: SqliteStore, clock: SettableClock,
                                                          local_http: LocalHttpServer) -> None:
    queue = QueueDepth(local_http, depth=7)
    world = build_world(store, clock, secrets=DictSecrets({"status_token": "tok-123"}))
    host = f"127.0.0.1:{local_http.port}"
    a_trigger(world, a_workflow(store, variables={"host": host}), TriggerType.CONDITION, {
        "source": "http://{{variables.host}}/queue?token={{secrets.status_token}}", "expression": "source.depth == 7"})
    assert len(poll_at(world, 0 * MINUTE)) == 1
    assert queue.reads == 1
    assert local_http.requests_to("/queue")[0].query == {"token": ["tok-123"]}
