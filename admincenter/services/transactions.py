"""Transactions for services that SCIM requests also call.

A SCIM write runs in one transaction that commits or rolls back whole
(``all_or_nothing``, entered by ``scim/views.py``): any error ends the request. Savepoints
inside it (every nested ``transaction.atomic`` block costs a SAVEPOINT and a RELEASE round
trip, four per user create) could only ever be rolled back to together with everything
else, so ``atomic`` skips them there. Elsewhere (Admin Center, commands, tests) it is
exactly ``transaction.atomic``.
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
