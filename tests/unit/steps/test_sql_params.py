"""Placeholders in SQL text: found outside literals and comments, rewritten for psycopg."""

from __future__ import annotations

import pytest

from orchestrator.steps.sql_params import SqlParamError, placeholders, to_psycopg


def test_named_placeholders_in_order_of_first_use() -> None:
    # Given SQL using :a twice and :b once
    found = placeholders("SELECT * FROM t WHERE a = :a AND b = :b OR a2 = :a")
    # Then each name is found once, in order
    assert found.names == ("a", "b") and found.style == "named"


def test_positional_placeholders_are_counted() -> None:
    assert placeholders("INSERT INTO t VALUES (?, ?, ?)").positional == 3


@pytest.mark.parametrize("sql", [
    "SELECT ':not_a_param', 'it''s ? fine' FROM t",
    'SELECT "col:umn?" FROM t',
    "SELECT 1 -- where x = :y ?\n",
    "SELECT 1 /* :y ? */",
    "SELECT $$ :y ? $$, $fn$ :z $fn$",
    "SELECT x::text, '{}'::jsonb",
    "SELECT E'it\\'s :y'",
])
def test_literals_comments_and_casts_hold_no_placeholders(sql: str) -> None:
    # Given colons and question marks only inside literals, identifiers, comments, dollar quotes or casts
    # Then none of them is a placeholder
    assert placeholders(sql).style == "none"


def test_mixing_styles_is_refused() -> None:
    with pytest.raises(SqlParamError, match="mixes"):
        placeholders("SELECT * FROM t WHERE a = :a AND b = ?")


@pytest.mark.parametrize("sql", ["SELECT 'open", "SELECT /* open", "SELECT $q$ open"])
def test_unterminated_literals_are_reported(sql: str) -> None:
    with pytest.raises(SqlParamError, match="unterminated"):
        placeholders(sql)


def test_rewrite_for_psycopg() -> None:
    # Given SQL with named placeholders, a cast, a literal percent sign and a LIKE pattern
    sql = "SELECT x::int, '50%' FROM t WHERE name LIKE 'a%' AND id = :id AND k = :id"
    # When rewritten
    # Then placeholders become pyformat, every literal % is doubled, and the cast is untouched
    assert to_psycopg(sql) == "SELECT x::int, '50%%' FROM t WHERE name LIKE 'a%%' AND id = %(id)s AND k = %(id)s"


def test_rewrite_positional_for_psycopg() -> None:
    assert to_psycopg("UPDATE t SET a = ? WHERE b = ? AND c % 2 = 0") == "UPDATE t SET a = %s WHERE b = %s AND c %% 2 = 0"
