"""Every hand-built SQL statement of the project, compiled once per database vendor.

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

The boundary: this module builds and runs statements; the rules (who may be deleted, which
transaction) stay with the services and selectors that call it. Each statement below says
what ORM code it replaces and the figure that justified it; ``bench/sql_statements.py``
re-measures them. Everything compiled lives in one cache, ``_COMPILED``, keyed by the
statement and the database vendor. Signals are never sent: ``tests/admincenter/test_hotsql.py``
fails if a model written here gains a receiver.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, models, router
from django.db.models import Func

from admincenter.models import (
    AuditEvent,
    AuditExport,
    GroupMembership,
    Organization,
    OrgMembership,
    ScimRequestLog,
    ScimToken,
    SsoConnection,
    User,
)

# The one cache: statement -> {database vendor: what was compiled for it (SQL, converters)}.
# A statement is the object that owns it (a RowInsert, JoinedRow or QueryTemplate) or the
# function that builds it. Weak keys: a template the SCIM selectors' bounded lru_cache
# drops takes its SQL with it, so clients sending ever new start/count grow nothing here.
_COMPILED: weakref.WeakKeyDictionary[object, dict[str, object]] = weakref.WeakKeyDictionary()


def _once(statement, connection, build: Callable | None = None):
    """``build(connection)`` (by default ``statement(connection)``), run once per statement
    and database vendor."""
    per_vendor = _COMPILED.setdefault(statement, {})
    compiled = per_vendor.get(connection.vendor)
    if compiled is None:
        compiled = per_vendor[connection.vendor] = (build or statement)(connection)
    return compiled


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

    def columns(self, connection) -> str:
        return ", ".join(
            f"{alias}.{_quote(connection, field.column)}" for _, alias, fields in self.parts for field in fields
        )

    def _converters_for(self, connection) -> list:
        return _once(self, connection, self._build_converters)

    def _build_converters(self, connection) -> list:
        converters = []
        for _, alias, fields in self.parts:
            for field in fields:
                column = field.get_col(alias)
                chain = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
                converters.append((column, chain))
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
    constraint violation raises ``django.db.IntegrityError`` as ``save()`` would.

    Replaces ``create()`` for the rows SCIM writes on every request: the request-log
    ``create()`` compiled for 0.4 ms of CPU per request, a SCIM create's user and
    *Everyone* membership for about 1.5 ms together (2-core development machine)."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if not (f.primary_key and f.db_returning)]

    def _sql_for(self, connection) -> str:
        return _once(self, connection, self._build_sql)

    def _build_sql(self, connection) -> str:
        columns = ", ".join(_quote(connection, f.column) for f in self.fields)
        placeholders = ", ".join(["%s"] * len(self.fields))
        table = _quote(connection, self.model._meta.db_table)
        return f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608 (names from model metadata)

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
    Nested blocks write with the outermost one.

    Replaces one INSERT round trip per audit event, per request-log row and per new
    *Everyone* membership: a SCIM create is BEGIN, token, user, the rest, COMMIT."""
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

    Replaces the ORM's compile of the one-equality look-ups IdPs send before every write
    (``userName eq "x"``), about 1.2 ms of CPU each: an in-process ``userName`` look-up went
    from 8.3 to 3.6 ms CPU per request.
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

    def _compile(self, connection) -> tuple[str, list]:
        return _once(self, connection, self._build)

    def _build(self, connection) -> tuple[str, list]:
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
        return sql, slots

    def run(self, *values) -> list[models.Model]:
        connection = connections[router.db_for_read(self.model)]
        sql, slots = self._compile(connection)
        params = [prepare if index is None else prepare(values[index]) for index, prepare in slots]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [self.loader.load(row, connection)[0] for row in cursor.fetchall()]


def _column(connection, model: type[models.Model], field: str) -> str:
    return _quote(connection, model._meta.get_field(field).column)


# Models the statements below write (with every ``RowInsert``'s model): none may have
# signal receivers, as none are sent (tests/admincenter/test_hotsql.py checks it).
MODELS_WRITTEN = (User, GroupMembership, OrgMembership, AuditExport, AuditEvent, ScimRequestLog)


# --- The SCIM bearer token ------------------------------------------------------------
# Replaces ScimToken.objects.select_related("organization", "sso_connection").get(token_hash=...),
# which every SCIM request runs: compiling it cost 1.3 ms of CPU per request on the 2-core
# development machine against 0.2 ms for the query (ServiceProviderConfig went from 7.4 to
# 3.4 ms CPU per request in-process); bench/sql_statements.py: 0.62 ms per call by the ORM,
# 0.16 ms this way. Served by the unique hash index.
_TOKEN_ROW = JoinedRow((ScimToken, "t"), (Organization, "o"), (SsoConnection, "c"))


def _token_sql(connection) -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT {_TOKEN_ROW.columns(connection)}"  # noqa: S608 (names from model metadata)
        f" FROM {quote(ScimToken._meta.db_table)} t"
        f" JOIN {quote(Organization._meta.db_table)} o"
        f" ON o.{quote(Organization._meta.pk.column)} = t.{_column(connection, ScimToken, 'organization')}"
        f" JOIN {quote(SsoConnection._meta.db_table)} c"
        f" ON c.{quote(SsoConnection._meta.pk.column)} = t.{_column(connection, ScimToken, 'sso_connection')}"
        f" WHERE t.{_column(connection, ScimToken, 'token_hash')} = %s"
    )


def scim_token_row(token_hash: str) -> ScimToken | None:
    """The token whose hash is ``token_hash``, with its organization and connection, or None."""
    connection = connections[router.db_for_read(ScimToken)]
    with connection.cursor() as cursor:
        cursor.execute(_once(_token_sql, connection), [token_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    token, organization, sso_connection = _TOKEN_ROW.load(row, connection)
    token.organization = organization
    token.sso_connection = sso_connection
    return token


# --- Deleting a person ----------------------------------------------------------------
# What deleting a person touches, by relation (tests check this covers User's relations).
# Replaces user.delete(): Django's collector issued a statement per relation of User (eight,
# with the operator-only ones) and spent more CPU than the statements; compiling even the
# five ORM statements left was about 40% of a DELETE /Users' CPU in-process. IdPs
# deprovision people by the thousand. bench/sql_statements.py: 2.3 ms per person by
# ``user.delete()``, 0.16 ms by ``person_row_delete``.
USER_DELETED_WITH = (GroupMembership, OrgMembership)
USER_UNLINKED_FROM = ((User, "manager"), (AuditExport, "requested_by"))
# Django admin's log and auth groups/permissions: only operators (staff) can have rows there.
OPERATOR_ONLY_RELATIONS = ("admin.LogEntry", "admincenter.User_groups", "admincenter.User_user_permissions")
_PERSON_COLUMNS = JoinedRow((User, "gone"))


def _dependents_sql(connection) -> list[str]:
    """What goes with a user's row, each statement taking the user's primary key: as
    Django's collector would issue it. One statement on PostgreSQL (data-modifying CTEs),
    one per relation elsewhere. It must run in a statement after the user's row is locked
    or deleted: one that started earlier would not see rows pointing at the user that
    another transaction committed while this one waited for the lock, and the foreign keys
    would fail at commit."""
    quote = connection.ops.quote_name
    deletes = [
        f"DELETE FROM {quote(m._meta.db_table)} WHERE {_column(connection, m, 'user')} = %s"  # noqa: S608
        for m in USER_DELETED_WITH
    ]
    unlinks = []
    for model, field in USER_UNLINKED_FROM:
        column = _column(connection, model, field)
        unlinks.append(f"UPDATE {quote(model._meta.db_table)} SET {column} = NULL WHERE {column} = %s")  # noqa: S608
    statements = deletes + unlinks
    if connection.vendor == "postgresql":
        *ctes, last = statements
        statements = [f"WITH {', '.join(f'r{i} AS ({sql})' for i, sql in enumerate(ctes))} {last}"]
    return statements


def _user_row_sql(connection) -> str:
    table, pk = _quote(connection, User._meta.db_table), _quote(connection, User._meta.pk.column)
    return f"DELETE FROM {table} WHERE {pk} = %s"  # noqa: S608 (model metadata)


def _person_delete_sql(connection) -> str:
    """DELETE of a home user of an organization who is not an operator, by id, returning
    the row as it was (PostgreSQL). The organization is compared with IS NOT DISTINCT FROM
    so that only the primary key can serve it (``EqualsNotIndexed``): with ``=``, deletes
    under load ran at 468 requests/s on a table without statistics, 606-611 this way."""
    return (
        f"DELETE FROM {_quote(connection, User._meta.db_table)} AS gone"  # noqa: S608 (model metadata)
        f" WHERE gone.{_quote(connection, User._meta.pk.column)} = %s"
        f" AND gone.{_column(connection, User, 'home_organization')} IS NOT DISTINCT FROM %s"
        f" AND NOT gone.{_column(connection, User, 'is_staff')}"
        f" AND NOT gone.{_column(connection, User, 'is_superuser')}"
        f" RETURNING {_PERSON_COLUMNS.columns(connection)}"
    )


def _user_dependents_delete(connection, key) -> None:
    with connection.cursor() as cursor:
        for sql in _once(_dependents_sql, connection):
            cursor.execute(sql, [key] * sql.count("%s"))


def user_row_delete(user: User) -> None:
    """``user.delete()`` for a person's row the caller has locked: memberships deleted,
    manager links and export requests unlinked (SET_NULL), then the row itself."""
    connection = connections[router.db_for_write(User)]
    key = User._meta.pk.get_db_prep_value(user.pk, connection)
    _user_dependents_delete(connection, key)
    with connection.cursor() as cursor:
        cursor.execute(_once(_user_row_sql, connection), [key])
    user.pk = None  # as Model.delete() leaves it


def person_row_delete(*, organization_id, user_id) -> User | None:
    """On PostgreSQL, delete the home user ``user_id`` of ``organization_id`` who is not an
    operator without reading the row first, then what goes with it (two round trips instead
    of six: the row is deleted first so the second statement sees everything committed while
    it waited for the lock). Returns the row as it was; None when there is no such user, and
    always elsewhere than PostgreSQL."""
    connection = connections[router.db_for_write(User)]
    if connection.vendor != "postgresql":
        return None
    key = User._meta.pk.get_db_prep_value(user_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_once(_person_delete_sql, connection), [key, organization_id])
        row = cursor.fetchone()
    if row is None:
        return None
    _user_dependents_delete(connection, key)
    return _PERSON_COLUMNS.load(row, connection)[0]


# --- Audit processing -------------------------------------------------------------------
# Replaces bulk_update(rows, ["summary", "processed_at", ...]) for a claimed batch (up to
# 1,000 rows): bulk_update writes one CASE WHEN per column with a branch per row, which
# PostgreSQL plans and evaluates row by row; one UPDATE ... FROM unnest() joins the batch
# by id instead. bench/sql_statements.py, per batch of 1,000 rows: events 282 ms by
# bulk_update, 31 ms this way; request-log rows 853 ms and 52 ms. SQLite, which has no
# arrays, gets one prepared UPDATE per row.


def _events_processed_sql(connection) -> str:
    table = _quote(connection, AuditEvent._meta.db_table)
    if connection.vendor == "postgresql":
        return (
            f"UPDATE {table} AS e SET summary = u.summary, processed_at = %s "  # noqa: S608 (table name only)
            "FROM unnest(%s::bigint[], %s::text[]) AS u(id, summary) WHERE e.id = u.id"
        )
    return f"UPDATE {table} SET summary = %s, processed_at = %s WHERE id = %s"  # noqa: S608


def audit_events_mark_processed(updates: list[tuple[int, str]], now) -> None:
    """Write each event's summary, ``(id, summary)``, and mark them processed at ``now``."""
    if not updates:
        return
    connection = connections[router.db_for_write(AuditEvent)]
    sql = _once(_events_processed_sql, connection)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(sql, [now, [u[0] for u in updates], [u[1] for u in updates]])
        else:
            cursor.executemany(sql, [(summary, now, pk) for pk, summary in updates])


def _logs_processed_sql(connection) -> str:
    table = _quote(connection, ScimRequestLog._meta.db_table)
    if connection.vendor == "postgresql":
        return (
            f"UPDATE {table} AS r SET idp = u.idp, summary = u.summary, event_count = u.n, "  # noqa: S608
            "processed_at = %s FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[]) "
            "AS u(id, idp, summary, n) WHERE r.id = u.id"
        )
    return (
        f"UPDATE {table} SET idp = %s, summary = %s, event_count = %s, processed_at = %s "  # noqa: S608
        "WHERE id = %s"
    )


def request_logs_mark_processed(updates: list[tuple[int, str, str, int]], now) -> None:
    """Write each request-log row's IdP, summary and event count, ``(id, idp, summary, count)``,
    and mark them processed at ``now``."""
    if not updates:
        return
    connection = connections[router.db_for_write(ScimRequestLog)]
    sql = _once(_logs_processed_sql, connection)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(sql, [now, *(list(column) for column in zip(*updates, strict=True))])
        else:
            cursor.executemany(sql, [(idp, summary, count, now, pk) for pk, idp, summary, count in updates])
