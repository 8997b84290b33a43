"""The one transaction helper: ``atomic``, and ``all_or_nothing`` for a SCIM write.

THE rule: every service that writes more than one row, or reads a row under lock and
writes it, is decorated ``@atomic``; a statement whose ``IntegrityError`` becomes a domain
error is wrapped in ``with atomic():``. Views and commands that open a transaction
themselves use the same helper, and so does the audit package's worker side: this module
sits beside the models (not inside ``admincenter.services``), so anything may import it
without pulling in the services. Nothing in the project uses plain ``transaction.atomic``
(``tests/admincenter/test_transactions_helper.py`` checks).

Outside ``all_or_nothing`` (Admin Center, commands, Celery, tests) ``atomic`` is exactly
``transaction.atomic``. Inside it (a SCIM write, entered by ``scim/views.py``) the whole
request commits or rolls back as one, and any error ends the request, so a savepoint
could only ever be rolled back to together with everything else: ``atomic`` skips them
there, saving a SAVEPOINT and a RELEASE round trip per nested block (four per user create).

Why the flag lives on the connection object: Django keeps one connection per database
alias and thread, and the transaction this flag describes belongs to that connection (a
``ContextVar`` would also have to be keyed by alias, and would outlive a connection that
Django closes and reopens). ``connection.in_atomic_block`` cannot replace it: it says a
transaction is open, not that it is an all-or-nothing one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

from admincenter.hotsql import deferred_inserts

_FLAG = "optiid_all_or_nothing"


def _inside_all_or_nothing() -> bool:
    return getattr(transaction.get_connection(), _FLAG, False)


def atomic(func=None):
    """``@atomic`` on a service, or ``with atomic():`` around a statement whose
    IntegrityError becomes a domain error (the request then ends, so no savepoint is
    needed inside ``all_or_nothing``)."""
    if func is None:
        return transaction.atomic(savepoint=not _inside_all_or_nothing())

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with transaction.atomic(savepoint=not _inside_all_or_nothing()):
            return func(*args, **kwargs)

    return wrapper


@contextmanager
def all_or_nothing() -> Iterator[None]:
    """One transaction that commits or rolls back whole; nested ``atomic`` blocks inside
    it set no savepoint, and the audit events and request-log row appended inside it are
    written together just before the commit (one statement on PostgreSQL). Nobody may
    catch an error inside it and carry on writing."""
    connection = transaction.get_connection()
    with transaction.atomic():
        previous = getattr(connection, _FLAG, False)
        setattr(connection, _FLAG, True)
        try:
            with deferred_inserts(connection.alias):
                yield
        finally:
            setattr(connection, _FLAG, previous)
