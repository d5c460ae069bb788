"""The bulk writers: many rows in or changed with few statements.

Django's ``bulk_create`` and ``bulk_update`` compile SQL value by value (``bulk_update`` builds a
CASE expression per row) and, on SQLite, split a batch into statements of a few dozen rows: at
100,000 items that was most of an import's or a curation run's time. Here PostgreSQL gets the
rows by ``COPY`` (psycopg dumps rows for COPY several times faster than it builds parameters),
and SQLite one prepared statement run with ``executemany``. Column names and types come from
the model. Values are database values: a JSON field's value is JSON text where noted, a foreign
key its id, a datetime as ``connection.ops.adapt_datetimefield_value`` gives it.

Tested on both backends in ``tests/annotation/test_bulk.py``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def insert_rows(model: type[Model], fields: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (values in the order of ``fields``) into ``model``'s table. A JSON
    field's value must already be JSON text. A row that breaks a constraint fails the whole call."""
    if not rows:
        return
    meta = model._meta
    columns = ", ".join(_quote(meta.get_field(name).column) for name in fields)
    table = _quote(meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})", rows)


def insert_new_rows(model: type[Model], fields: Sequence[str], rows: list[tuple[Any, ...]], *, durable: bool = True) -> int:
    """Insert ``rows`` into ``model``'s table, leaving out those that hit a unique constraint
    (``ON CONFLICT DO NOTHING``: a concurrent import of the same id or content). Returns how
    many went in. ``durable=False`` lets PostgreSQL commit without waiting for the WAL flush,
    for rows a crash would only make someone import again. Call it inside a transaction."""
    if not rows:
        return 0
    meta = model._meta
    table = _quote(meta.db_table)
    columns = ", ".join(_quote(meta.get_field(name).column) for name in fields)
    staging = _quote(f"quorum_new_{meta.db_table}")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if not durable:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS "
                f"AS SELECT {columns} FROM {table} WITH NO DATA"
            )
            with cursor.cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} ON CONFLICT DO NOTHING")
            inserted = cursor.rowcount
            cursor.execute(f"TRUNCATE {staging}")
        else:
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT DO NOTHING",
                rows,
            )
            inserted = cursor.rowcount
    return inserted if inserted is not None and inserted >= 0 else len(rows)


def update_rows(model: type[Model], fields: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Set ``fields`` of many rows of ``model``: each row is (pk, *values), a JSON field's value
    a Python object. PostgreSQL: COPY into a temporary table and one ``UPDATE … FROM`` it;
    SQLite: one prepared UPDATE run with ``executemany``. Call it inside a transaction (the
    temporary table lives until the commit)."""
    if not rows:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("update_rows runs inside a transaction (its temporary table lives until the commit)")
    meta = model._meta
    model_fields = [meta.get_field(name) for name in fields]
    json_at = {n for n, f in enumerate(model_fields, start=1) if f.get_internal_type() == "JSONField"}
    if json_at:
        rows = [tuple(json.dumps(v) if n in json_at else v for n, v in enumerate(row)) for row in rows]
    table, pk = _quote(meta.db_table), _quote(meta.pk.column)
    columns = [_quote(f.column) for f in model_fields]  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = [
                f.rel_db_type(connection) if f.is_relation else f.db_type(connection)  # type: ignore[union-attr]
                for f in (meta.pk, *model_fields)
            ]
            names = [f"v{n}" for n in range(len(types))]
            cursor.execute(
                f"CREATE TEMPORARY TABLE quorum_update ({', '.join(f'{v} {t}' for v, t in zip(names, types, strict=True))}) "
                f"ON COMMIT DROP"
            )
            with cursor.cursor.copy(f"COPY quorum_update ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"UPDATE {table} SET {', '.join(f'{c} = v.{v}' for c, v in zip(columns, names[1:], strict=True))} "
                f"FROM quorum_update AS v WHERE {table}.{pk} = v.v0"
            )
            cursor.execute("DROP TABLE quorum_update")
        else:
            cursor.executemany(
                f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in columns)} WHERE {pk} = %s",
                [(*row[1:], row[0]) for row in rows],
            )
