"""SQL compiled once for the statements SCIM runs on every request.

Django compiles a query anew on every call. For the statements SCIM requests run by the
thousand (the token lookup with its organization and connection, the request-log and
audit-event inserts, a create's user and *Everyone* rows, reads by id, the look-ups IdPs
send before writes) that compilation cost more CPU than PostgreSQL spent on the
statement: about 1.3 ms for the ``select_related`` token lookup on a 2-core machine,
against 0.2 ms for the same SQL written once. The helpers here build that SQL once per
database vendor (from the models' metadata, or by compiling a queryset with stand-in
values) and read and write values through the same field conversions the ORM applies, so
SQLite and PostgreSQL see exactly what ``get()`` / ``create()`` / ``filter()`` would have
produced. Use them only where a profile shows the ORM's compile step matters.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, models, router
from django.db.models import Func


def _same(value):
    return value


def _hex(value):
    return value.hex


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
    concrete field but a database-generated primary key, built once per vendor. Defaults,
    ``auto_now`` and database preparation come from the fields themselves (``pre_save``,
    ``get_db_prep_save``), as in the ORM's insert compiler. Signals are not sent (the
    project has no receivers) and a database-generated key (AutoField) is not read back:
    such rows (request logs, audit events, memberships) come back without ``pk``. A
    constraint violation raises ``django.db.IntegrityError`` as ``save()`` would."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if not (f.primary_key and f.db_returning)]
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
        return self.insert_instance(self.model(**values))

    def insert_instance(self, obj: models.Model) -> models.Model:
        """Insert a new, unsaved instance; afterwards it is a saved row (a later ``save()``
        updates it), as after ``save(force_insert=True)``."""
        connection = connections[router.db_for_write(self.model)]
        with connection.cursor() as cursor:
            cursor.execute(self._sql_for(connection), self._params(obj, connection))
        return self._saved(obj, connection)

    def append(self, **values) -> models.Model:
        """``insert`` for rows that nothing reads back in the same transaction (audit
        events, request logs, a new user's *Everyone* membership): inside
        ``deferred_inserts()`` the row is written together with the other appended rows as
        the block ends (its values, ``auto_now`` times included, are taken now); elsewhere
        it is inserted at once."""
        obj = self.model(**values)
        connection = connections[router.db_for_write(self.model)]
        pending = getattr(connection, _DEFERRED, None)
        if pending is None:
            return self.insert_instance(obj)
        pending.append((self, self._params(obj, connection)))
        return self._saved(obj, connection)

    def _params(self, obj: models.Model, connection) -> list:
        return [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in self.fields]

    @staticmethod
    def _saved(obj: models.Model, connection) -> models.Model:
        obj._state.adding = False
        obj._state.db = connection.alias
        return obj

    def _values_sql(self, connection, rows: int) -> str:
        """The INSERT of ``rows`` rows at once."""
        more = ", (" + ", ".join(["%s"] * len(self.fields)) + ")"
        return self._sql_for(connection) + more * (rows - 1)


# Rows appended inside deferred_inserts(), on the connection: [(RowInsert, params), ...].
_DEFERRED = "optiid_deferred_inserts"
# Rows per INSERT when flushing, and what PostgreSQL takes in one statement.
_FLUSH_ROWS = 500
_MAX_PARAMETERS = 65_535


@contextmanager
def deferred_inserts(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Rows ``RowInsert.append``-ed inside the block are written as it ends without an
    error: one multi-row INSERT per table (per 500 rows), made one statement on PostgreSQL
    (data-modifying CTEs) when each table fits one INSERT; after an error they are dropped, as a rollback
    would drop them. Enter it inside the transaction whose commit the rows must share.
    Nested blocks write with the outermost one."""
    connection = connections[using]
    if getattr(connection, _DEFERRED, None) is not None:
        yield
        return
    pending: list = []
    setattr(connection, _DEFERRED, pending)
    try:
        yield
    finally:
        setattr(connection, _DEFERRED, None)
    if pending:
        _write(connection, pending)


def _write(connection, pending: list) -> None:
    tables: dict[RowInsert, list] = {}
    for insert, params in pending:
        tables.setdefault(insert, []).append(params)
    statements = []  # (sql, params) per table and chunk
    for insert, rows in tables.items():
        for start in range(0, len(rows), _FLUSH_ROWS):
            chunk = rows[start : start + _FLUSH_ROWS]
            statements.append((insert._values_sql(connection, len(chunk)), [v for row in chunk for v in row]))
    # One statement when each table fits one INSERT: the order of data-modifying CTEs is
    # not defined, so two chunks of one table could get ids out of the appended order.
    one_each = len(statements) == len(tables)
    parameters = sum(len(params) for _, params in statements)
    if connection.vendor == "postgresql" and len(statements) > 1 and one_each and parameters <= _MAX_PARAMETERS:
        *first, last = statements
        ctes = ", ".join(f"w{i} AS ({sql})" for i, (sql, _) in enumerate(first))
        statements = [(f"WITH {ctes} {last[0]}", [v for _, params in statements for v in params])]
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)


class EqualsNotIndexed(Func):
    """``column IS NOT DISTINCT FROM value`` (``IS`` on SQLite): equality for a column that is
    never NULL, written so PostgreSQL cannot use it as an index condition.

    For a read or delete by primary key that is also scoped to a tenant: with ``=``, a
    table PostgreSQL has no statistics for yet (autovacuum off, or just filled by an IdP)
    can be read through an index on the tenant column, every row of the tenant scanned to
    find one. This way only the primary key can serve the statement."""

    output_field = models.BooleanField()
    template = "(%(expressions)s)"
    arg_joiner = " IS NOT DISTINCT FROM "

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, arg_joiner=" IS ", **extra_context)


class QueryTemplate:
    """A queryset compiled to SQL once and run again with other values.

    ``build(*stand_ins)`` returns a queryset of plain ``model`` rows (no ``select_related``,
    ``only`` or annotations). It is compiled once per database vendor with stand-in
    values, one per entry of ``kinds`` ("int", "text" or "uuid"); each must reach the SQL
    parameters exactly once, unchanged (a plain comparison), which compiling checks.
    ``run(*values)`` executes that SQL with the real values in their places and returns
    instances converted as the ORM converts them.
    """

    _STAND_INS = {
        "int": lambda i: -7_000_000_000 - i,
        "text": lambda i: f"\x00hotsql stand-in {i}\x00",
        "uuid": lambda i: uuid.UUID(int=(0x5EED << 112) + i),
    }
    # How a stand-in may look once the field prepared it (a UUID is text on SQLite).
    _PREPARED_FORMS = {"int": (_same,), "text": (_same,), "uuid": (_same, _hex, str)}

    def __init__(self, model: type[models.Model], build: Callable[..., models.QuerySet], kinds: Sequence[str]):
        self.model = model
        self.build = build
        self.kinds = tuple(kinds)
        self.loader = JoinedRow((model, model._meta.db_table))
        self._compiled: dict[str, tuple[str, list]] = {}

    def _compile(self, connection) -> tuple[str, list]:
        compiled = self._compiled.get(connection.vendor)
        if compiled is not None:
            return compiled
        stand_ins = [self._STAND_INS[kind](i) for i, kind in enumerate(self.kinds)]
        queryset = self.build(*stand_ins)
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        selected = [column.target for column, _, _ in compiler.select]
        if queryset.model is not self.model or selected != list(self.model._meta.concrete_fields):
            raise ValueError(f"QueryTemplate needs plain {self.model.__name__} rows: {queryset.query}")
        slots = []  # per parameter: (index of the value, how it is prepared), or (None, the constant)
        for param in params:
            found = [
                (index, prepare)
                for index, (kind, stand_in) in enumerate(zip(self.kinds, stand_ins, strict=True))
                for prepare in self._PREPARED_FORMS[kind]
                if param == prepare(stand_in)
            ]
            slots.append(found[0] if found else (None, param))
        if sorted(index for index, _ in slots if index is not None) != list(range(len(stand_ins))):
            raise ValueError(f"Each value must reach the SQL once, unchanged: {queryset.query}")
        compiled = self._compiled[connection.vendor] = (sql, slots)
        return compiled

    def run(self, *values) -> list[models.Model]:
        connection = connections[router.db_for_read(self.model)]
        sql, slots = self._compile(connection)
        params = [prepare if index is None else prepare(values[index]) for index, prepare in slots]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [self.loader.load(row, connection)[0] for row in cursor.fetchall()]
