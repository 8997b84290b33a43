"""Hand-compiled hot statements read and write exactly what the ORM would (admincenter/hotsql.py)."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.utils import timezone

from admincenter.hotsql import JoinedRow, RowInsert, deferred_inserts
from admincenter.models import AuditEvent, Organization, ScimRequestLog, ScimToken, User
from admincenter.services.scim import scim_request_log_record
from admincenter.services.tokens import scim_token_lookup
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def all_values(instance):
    """Every concrete field as the ORM's Python value (types included)."""
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_token_lookup_matches_the_orms_select_related(scim_token, django_assert_num_queries):
    ScimToken.objects.update(expires_at=timezone.now() + timedelta(days=3))
    expected = ScimToken.objects.select_related("organization", "sso_connection").get()

    with django_assert_num_queries(1):
        token = scim_token_lookup(scim_token)
        organization, sso_connection = token.organization, token.sso_connection  # no further query

    assert all_values(token) == all_values(expected)
    assert all_values(organization) == all_values(expected.organization)
    assert all_values(sso_connection) == all_values(expected.sso_connection)
    assert token._state.adding is False and token._state.db == connection.alias
    assert isinstance(token.expires_at, type(expected.expires_at)) and token.expires_at.tzinfo is not None


def test_token_lookup_of_an_unknown_value_is_none(scim_token):
    assert scim_token_lookup(scim_token + "x") is None
    assert scim_token_lookup("") is None


def test_joined_row_converts_uuids_json_and_booleans_like_the_orm(scim_managed_user):
    User.objects.filter(pk=scim_managed_user.pk).update(scim_attributes={"nickName": "Al", "x": [1, True]})
    expected = User.objects.select_related("home_organization").get(pk=scim_managed_user.pk)
    loader = JoinedRow((User, "u"), (Organization, "o"))
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {loader.columns(connection)} FROM {quote(User._meta.db_table)} u"
            f" JOIN {quote(Organization._meta.db_table)} o ON o.id = u.home_organization_id WHERE u.email = %s",
            [scim_managed_user.email],
        )
        user, organization = loader.load(cursor.fetchone(), connection)
    assert isinstance(user.pk, uuid.UUID)
    assert all_values(user) == all_values(expected)
    assert all_values(organization) == all_values(expected.home_organization)


def test_row_insert_stores_what_create_would(scim_organization, django_assert_num_queries):
    fields = dict(
        organization=scim_organization,
        token_prefix="optiid_scim_abcdefgh",
        method="PATCH",
        path="/api/scim/v2/Users/1?attributes=userName",
        status_code=200,
        duration_ms=12,
        request_id="req-1",
        ip="10.0.0.1",
        user_agent="Okta SCIM Client",
    )
    insert = RowInsert(ScimRequestLog)
    before = timezone.now()
    with django_assert_num_queries(1):
        insert.insert(**fields)
    via_orm = ScimRequestLog.objects.create(**fields)

    stored, expected = ScimRequestLog.objects.order_by("id")
    assert before <= stored.occurred_at <= expected.occurred_at  # the field default ran
    ignore = {"id", "occurred_at"}
    assert {k: v for k, v in model_to_dict(stored).items() if k not in ignore} == {
        k: v for k, v in model_to_dict(via_orm).items() if k not in ignore
    }
    assert (stored.processed_at, stored.event_count, stored.scim_type) == (None, 0, "")


def test_scim_request_log_record_is_one_insert(scim_organization, django_assert_num_queries):
    with django_assert_num_queries(1):
        scim_request_log_record(
            organization=scim_organization, method="GET", path="/api/scim/v2/Users", status_code=200
        )
    assert ScimRequestLog.objects.get().organization == scim_organization


def test_query_template_runs_its_sql_again_with_new_values(scim_organization, django_assert_num_queries):
    from admincenter.hotsql import QueryTemplate

    alice = UserFactory(organization=scim_organization, email="alice@acme.test")
    UserFactory(organization=scim_organization, email="bob@acme.test")
    by_email = QueryTemplate(
        User, lambda org_id, email: User.objects.filter(home_organization=org_id, email=email), kinds=("int", "text")
    )
    with django_assert_num_queries(1):
        (found,) = by_email.run(scim_organization.pk, "alice@acme.test")
    assert all_values(found) == all_values(User.objects.get(pk=alice.pk))
    assert by_email.run(scim_organization.pk, "carol@acme.test") == []
    assert by_email.run(scim_organization.pk + 1, "alice@acme.test") == []

    by_id = QueryTemplate(User, lambda pk: User.objects.filter(pk=pk), kinds=("uuid",))
    assert [u.pk for u in by_id.run(alice.pk)] == [alice.pk]


def test_a_dropped_template_takes_its_compiled_sql_out_of_the_cache(scim_organization):
    """The SCIM selectors keep equality templates in a bounded lru_cache; what one compiled
    must go with it, or clients sending ever new start/count would grow the cache forever."""
    import gc
    import weakref

    from admincenter import hotsql

    template = hotsql.QueryTemplate(User, lambda pk: User.objects.filter(pk=pk), kinds=("uuid",))
    template.run(uuid.uuid4())
    assert connection.vendor in hotsql._COMPILED[template]
    dropped = weakref.ref(template)
    del template
    gc.collect()
    assert dropped() is None


@pytest.mark.parametrize(
    "build",
    [
        lambda email: User.objects.filter(email__icontains=email),  # the value is wrapped in %...%
        lambda email: User.objects.filter(email=email).only("email"),  # not every column
        lambda email: User.objects.filter(email=email).select_related("home_organization"),
        lambda email: User.objects.filter(email=email, given_name=email),  # the value twice
        lambda email: User.objects.all(),  # the value never reaches the SQL
    ],
)
def test_query_template_refuses_queries_it_cannot_replay(build):
    from admincenter.hotsql import QueryTemplate

    with pytest.raises(ValueError, match=r"QueryTemplate needs|reach the SQL once"):
        QueryTemplate(User, build, kinds=("text",)).run("x@acme.test")


def test_row_insert_of_an_instance_leaves_a_saved_row(scim_organization, django_assert_num_queries):
    user = User(email="new@acme.test", home_organization=scim_organization, given_name="Ada")
    with django_assert_num_queries(1):
        RowInsert(User).insert_instance(user)
    stored = User.objects.get(pk=user.pk)  # the Python-side UUID key was written, not generated
    assert all_values(stored) == all_values(user)
    user.given_name = "Grace"
    with django_assert_num_queries(1):
        user.save()  # an UPDATE, not a second INSERT
    assert User.objects.get(pk=user.pk).given_name == "Grace"


def test_row_insert_reports_a_duplicate_as_integrity_error(scim_organization):
    from django.db import IntegrityError, transaction

    RowInsert(User).insert(email="dup@acme.test", home_organization=scim_organization)
    with pytest.raises(IntegrityError), transaction.atomic():
        RowInsert(User).insert(email="dup@acme.test", home_organization=scim_organization)


def _log_fields(organization, n: int) -> dict:
    return dict(organization=organization, method="GET", path=f"/api/scim/v2/Users?n={n}", status_code=200)


def test_appended_rows_are_written_together_as_the_block_ends(scim_organization, django_assert_num_queries):
    logs, events = RowInsert(ScimRequestLog), RowInsert(AuditEvent)
    events_before = AuditEvent.objects.count()
    inserts = 1 if connection.vendor == "postgresql" else 2  # one INSERT per table elsewhere
    with django_assert_num_queries(2 + inserts), deferred_inserts():
        for n in range(3):
            row = logs.append(**_log_fields(scim_organization, n))
            assert row._state.adding is False
        events.append(organization=scim_organization, actor_type="scim_token", action="user.create")
        with deferred_inserts():  # nested: written with the outer block
            events.append(organization=scim_organization, actor_type="scim_token", action="user.delete")
        assert (ScimRequestLog.objects.count(), AuditEvent.objects.count()) == (0, events_before)  # the 2 others
    paths = list(ScimRequestLog.objects.order_by("id").values_list("path", flat=True))
    assert paths == [f"/api/scim/v2/Users?n={n}" for n in range(3)]  # in the order appended
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions[events_before:] == ["user.create", "user.delete"]


def test_appended_rows_are_dropped_when_the_block_fails(scim_organization):
    logs = RowInsert(ScimRequestLog)
    with pytest.raises(RuntimeError), deferred_inserts():
        logs.append(**_log_fields(scim_organization, 1))
        raise RuntimeError("the request failed")
    assert not ScimRequestLog.objects.exists()
    logs.append(**_log_fields(scim_organization, 2))  # outside a block: inserted at once
    assert ScimRequestLog.objects.get().path.endswith("n=2")


def test_many_appended_rows_are_written_in_chunks_in_order(scim_organization, monkeypatch, django_assert_num_queries):
    from admincenter import hotsql

    monkeypatch.setattr(hotsql, "_FLUSH_ROWS", 4)
    logs, events = RowInsert(ScimRequestLog), RowInsert(AuditEvent)
    with django_assert_num_queries(4), deferred_inserts():  # 3 chunks of logs, 1 of events: not merged
        for n in range(10):
            logs.append(**_log_fields(scim_organization, n))
        events.append(organization=scim_organization, actor_type="scim_token", action="user.create")
    paths = list(ScimRequestLog.objects.order_by("id").values_list("path", flat=True))
    assert paths == [f"/api/scim/v2/Users?n={n}" for n in range(10)]


def _models_written_by_hand_built_sql() -> set:
    """hotsql's statements' models, and the model of every ``RowInsert`` in the project."""
    import gc
    import importlib
    import pkgutil

    import admincenter
    from admincenter import hotsql

    for module in pkgutil.walk_packages(admincenter.__path__, "admincenter."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    inserted = {obj.model for obj in gc.get_objects() if isinstance(obj, RowInsert)}
    return set(hotsql.MODELS_WRITTEN) | inserted


def _models_with_receivers(models) -> list[str]:
    from django.db.models import signals

    found = []
    for model in models:
        senders = [model, *(field.remote_field.through for field in model._meta.local_many_to_many)]
        for name in ("pre_save", "post_save", "pre_delete", "post_delete", "m2m_changed"):
            if any(getattr(signals, name).has_listeners(sender) for sender in senders):
                found.append(f"{model._meta.label} {name}")
    return found


def test_no_model_written_by_hand_built_sql_has_signal_receivers():
    """hotsql writes rows without sending signals; a receiver on one of these models would
    silently never run for SCIM's writes."""
    models = _models_written_by_hand_built_sql()
    assert {User, AuditEvent, ScimRequestLog} <= models
    assert _models_with_receivers(models) == []


def test_a_receiver_on_a_model_written_by_hand_built_sql_is_found():
    from django.db.models.signals import post_delete

    def receiver(**kwargs):
        return None

    post_delete.connect(receiver, sender=User, weak=False)
    try:
        assert _models_with_receivers([User]) == ["admincenter.User post_delete"]
    finally:
        post_delete.disconnect(receiver, sender=User)
