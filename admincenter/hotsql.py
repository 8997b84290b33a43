"""SQL compiled once for the few statements every SCIM request runs.

Django compiles a query anew on every call. For the statements each SCIM request runs
(the token lookup with its organization and connection, the request-log insert) that
compilation cost more CPU than PostgreSQL spent on the statement: about 1.3 ms for the
``select_related`` token lookup on a 2-core machine, against 0.2 ms for the same SQL
written once. The helpers here build that SQL from the models' metadata, once per
database vendor, and read and write values through the same field conversions the ORM
applies, so SQLite and PostgreSQL see exactly what ``objects.get()`` / ``create()``
would have produced. Use them only where a profile shows the ORM's compile step matters.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, models, router


def _quote(connection, name: str) -> str:
    return connection.ops.quote_name(name)


class JoinedRow:
    """Instances of several models read from one row (a hand-written ``select_related``).

    ``JoinedRow((ScimToken, "t"), (Organization, "o"))`` selects every concrete column of
    each model under its alias; ``load(row)`` returns one instance per model, converted
    as the ORM converts them (UUIDs, datetimes, JSON on SQLite).
    """

    def __init__(self, *models_and_aliases: tuple[type[models.Model], str]) -> None:
        self.parts = [(model, alias, list(model._meta.concrete_fields)) for model, alias in models_and_aliases]
        self._converters: dict[str, list] = {}

    def columns(self, connection) -> str:
        return ", ".join(
            f"{alias}.{_quote(connection, field.column)}" for _, alias, fields in self.parts for field in fields
        )

    def _converters_for(self, connection) -> list:
        converters = self._converters.get(connection.vendor)
        if converters is None:
            converters = []
            for _, alias, fields in self.parts:
                for field in fields:
                    column = field.get_col(alias)
                    chain = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
                    converters.append((column, chain))
            self._converters[connection.vendor] = converters
        return converters

    def load(self, row: Sequence, connection) -> list[models.Model]:
        values = list(row)
        for index, (column, chain) in enumerate(self._converters_for(connection)):
            for converter in chain:
                values[index] = converter(values[index], column, connection)
        instances, start = [], 0
        for model, _, fields in self.parts:
            end = start + len(fields)
            instances.append(model.from_db(connection.alias, [f.attname for f in fields], values[start:end]))
            start = end
        return instances


class RowInsert:
    """``Model.objects.create()`` without the per-call compile: one INSERT of every
    concrete field but the auto primary key, built once per vendor. Defaults,
    ``auto_now`` and database preparation come from the fields themselves (``pre_save``,
    ``get_db_prep_save``), as in the ORM's insert compiler. Signals are not sent and the
    new primary key is not read back: meant for append-only rows like request logs."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self._sql: dict[str, str] = {}

    def _sql_for(self, connection) -> str:
        sql = self._sql.get(connection.vendor)
        if sql is None:
            columns = ", ".join(_quote(connection, f.column) for f in self.fields)
            placeholders = ", ".join(["%s"] * len(self.fields))
            table = _quote(connection, self.model._meta.db_table)
            sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608 (names from model metadata)
            self._sql[connection.vendor] = sql
        return sql

    def insert(self, **values) -> models.Model:
        obj = self.model(**values)
        connection = connections[router.db_for_write(self.model)]
        params = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in self.fields]
        with connection.cursor() as cursor:
            cursor.execute(self._sql_for(connection), params)
        return obj
