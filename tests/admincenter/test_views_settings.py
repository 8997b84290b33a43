"""Settings pages: SSO connections, provisioning mode, SCIM tokens, Connect your IdP."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from admincenter import services
from admincenter.encryption import decrypt
from admincenter.models import AuditEvent, Organization, ScimToken, SsoConnection, User
from admincenter.services import Actor
from admincenter.services.tokens import hash_token
from tests.admincenter.test_views_common import last_event
from tests.factories import GroupFactory
from tests.sso.metadata_support import IDP_ENTITY_ID, IDP_SSO_URL, certificate_der, certificate_pem, idp_metadata_xml

OPERATOR = Actor.operator("tests")
SECRET = "view-s3cr3t-value"
TOKEN_RE = re.compile(r'data-testid="new-token">(optiid_scim_[A-Za-z0-9_-]+)<')


def sso_data(**overrides):
    data = {
        "name": "Entra",
        "protocol": "oidc",
        "domains": "example.org\nEXAMPLE.net",
        "oidc_issuer": "https://login.example/",
    }
    data.update(overrides)
    return data


def saml_data(**overrides):
    data = {"name": "Okta", "protocol": "saml", "domains": "", "saml_source": "xml"}
    data.update(overrides)
    return data


def token_form(client, **overrides):
    page = client.get(reverse("scim_tokens"))
    data = {"label": "Okta prod", "expiry": "365", "nonce": page.context["form"].initial["nonce"]}
    data.update(overrides)
    return data


@pytest.fixture
def metadata_server():
    """A real HTTP server on 127.0.0.1 serving IdP metadata at /metadata."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            return

        def do_GET(self):
            found = self.path == "/metadata"
            body = idp_metadata_xml().encode() if found else b"missing"
            self.send_response(200 if found else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# --- SSO connections -----------------------------------------------------------


def test_sso_list_shows_connections_with_domains_and_scim_badge(admin_client, scim_organization):
    html = admin_client.get(reverse("sso_list")).content.decode()
    assert "PingOne" in html and "<code>acme.test</code>" in html
    assert "SCIM connection" in html
    assert "Disable SCIM before deleting" in html
    assert 'data-testid="sso-state">Draft<' in html


def test_add_an_sso_connection(admin_client, organization):
    response = admin_client.post(reverse("sso_create"), sso_data())
    assert response.status_code == 302
    connection = SsoConnection.objects.get(organization=organization, name="Entra")
    assert response["Location"] == reverse("sso_edit", args=[connection.pk])
    assert connection.domain_names == ["example.net", "example.org"]
    assert connection.oidc_issuer == "https://login.example/"
    assert not connection.is_ready  # no client ID or secret yet: a draft
    assert last_event(organization, "sso_connection.create").after["domains"] == ["example.org", "example.net"]


def test_add_an_oidc_connection_with_a_write_only_secret(admin_client, organization):
    response = admin_client.post(
        reverse("sso_create"),
        sso_data(oidc_client_id="app-1", oidc_client_secret=SECRET, oidc_scopes="openid email groups"),
    )
    assert response.status_code == 302
    connection = SsoConnection.objects.get(organization=organization, name="Entra")
    assert connection.is_ready
    assert decrypt(connection.oidc_client_secret_encrypted) == SECRET
    assert connection.oidc_scopes == "openid email groups"

    page = admin_client.get(response["Location"])
    html = page.content.decode()
    assert SECRET not in html
    assert 'type="password" name="oidc_client_secret"' in html
    assert "Leave blank to keep the current secret" in html
    assert "no-store" in page["Cache-Control"]

    # Saving without a secret keeps the stored one.
    stored = connection.oidc_client_secret_encrypted
    data = sso_data(oidc_client_id="app-2", oidc_scopes="openid email groups", domains="example.org\nexample.net")
    assert admin_client.post(response["Location"], data).status_code == 302
    connection.refresh_from_db()
    assert (connection.oidc_client_id, connection.oidc_client_secret_encrypted) == ("app-2", stored)
    audited = json.dumps(list(AuditEvent.objects.values_list("before", "after")))
    assert SECRET not in audited
    assert '"oidc_client_secret": "changed"' in audited


def test_a_refused_form_never_renders_the_typed_secret(admin_client, organization):
    response = admin_client.post(reverse("sso_create"), sso_data(oidc_client_secret=SECRET, oidc_scopes="email"))
    assert response.status_code == 400
    assert "must include openid" in response.context["form"].errors["oidc_scopes"][0]
    assert SECRET not in response.content.decode()


def test_add_saml_by_pasting_metadata_xml(admin_client, organization):
    response = admin_client.post(reverse("sso_create"), saml_data(saml_idp_metadata_xml=idp_metadata_xml()))
    assert response.status_code == 302
    connection = SsoConnection.objects.get(organization=organization, name="Okta")
    assert (connection.saml_idp_entity_id, connection.saml_idp_sso_url) == (IDP_ENTITY_ID, IDP_SSO_URL)
    assert certificate_der(connection.saml_idp_x509_cert) == certificate_der(certificate_pem())
    assert connection.is_ready and not connection.saml_allow_idp_initiated


def test_add_saml_from_a_metadata_url_fetched_by_the_server(admin_client, organization, metadata_server):
    url = f"{metadata_server}/metadata"
    response = admin_client.post(reverse("sso_create"), saml_data(saml_source="url", saml_idp_metadata_url=url))
    assert response.status_code == 302
    connection = SsoConnection.objects.get(organization=organization, name="Okta")
    assert connection.is_ready and connection.saml_idp_metadata_url == url


def test_add_saml_by_hand(admin_client, organization):
    response = admin_client.post(
        reverse("sso_create"),
        saml_data(
            saml_source="manual",
            saml_idp_entity_id="http://www.okta.com/exk1",
            saml_idp_sso_url="https://acme.okta.com/app/exk1/sso/saml",
            saml_idp_x509_cert=certificate_pem(),
            saml_nameid_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            saml_allow_idp_initiated="on",
            email_attribute="mail",
        ),
    )
    assert response.status_code == 302
    connection = SsoConnection.objects.get(organization=organization, name="Okta")
    assert connection.is_ready and connection.saml_allow_idp_initiated
    assert connection.saml_nameid_format.endswith(":persistent")
    assert connection.email_attribute == "mail"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (sso_data(domains="gmail.com"), "domains", "public mail domain"),
        (sso_data(domains="acme.test"), "domains", "already used by another SSO connection"),
        (sso_data(name="pingone"), "name", "already exists"),
        (sso_data(name=""), "name", "This field is required"),
        (sso_data(oidc_issuer="not a url"), "oidc_issuer", "Enter a valid URL"),
        (sso_data(oidc_scopes="profile email"), "oidc_scopes", "must include openid"),
        (sso_data(oidc_token_auth_method="none"), "oidc_token_auth_method", "Select a valid choice"),
        (sso_data(group_claims_grant_admin="on"), "group_claims_grant_admin", "Turn group claims on"),
        (saml_data(saml_idp_metadata_xml="<html>login</html>"), "saml_idp_metadata_xml", "no IdP description"),
        (saml_data(saml_idp_metadata_xml="<broken"), "saml_idp_metadata_xml", "not SAML metadata XML"),
        (saml_data(saml_source="url"), "saml_idp_metadata_url", "Enter the metadata URL"),
        (
            saml_data(saml_source="url", saml_idp_metadata_url="ftp://idp.example.test/md"),
            "saml_idp_metadata_url",
            "must be an http:// or https:// URL",
        ),
        (saml_data(saml_source="manual", saml_idp_x509_cert="nope"), "saml_idp_x509_cert", "not a valid X.509"),
        (saml_data(saml_source="manual", saml_idp_sso_url="sso"), "saml_idp_sso_url", "Enter a valid URL"),
    ],
)
def test_sso_form_errors_are_next_to_the_field(admin_client, organization, data, field, message):
    response = admin_client.post(reverse("sso_create"), data)
    assert response.status_code in (400, 409)
    assert message in response.context["form"].errors[field][0]
    assert SsoConnection.objects.filter(organization=organization).count() == 1
    # The error is rendered inside the field's own group.
    html = response.content.decode()
    field_start = html.index(f'name="{field}"')
    assert html.rfind('class="field has-error"', 0, field_start) > html.rfind('<div class="field"', 0, field_start)


def test_an_unreachable_metadata_url_is_a_field_error(admin_client, organization, metadata_server, settings):
    settings.SSO_HTTP_TIMEOUT_SECONDS = 1
    response = admin_client.post(
        reverse("sso_create"), saml_data(saml_source="url", saml_idp_metadata_url=f"{metadata_server}/gone")
    )
    assert response.status_code == 400
    assert response.context["form"].errors["saml_idp_metadata_url"] == ["The metadata URL answered HTTP 404."]


def test_at_most_five_connections(admin_client, organization):
    for i in range(4):
        services.sso_connection_create(organization=organization, name=f"C{i}", protocol="saml", actor=OPERATOR)
    page = admin_client.get(reverse("sso_list"))
    assert b"The limit of 5 connections is reached." in page.content
    response = admin_client.post(reverse("sso_create"), sso_data(domains=""))
    assert response.status_code == 409
    assert "at most 5" in response.context["form"].errors["name"][0]


def test_edit_an_sso_connection(admin_client, organization, sso_connection):
    page = admin_client.get(reverse("sso_edit", args=[sso_connection.pk]))
    assert page.context["form"].initial["domains"] == "acme.test"
    response = admin_client.post(
        reverse("sso_edit", args=[sso_connection.pk]),
        {
            "name": "PingOne EU",
            "protocol": "saml",
            "domains": "acme.test\nacme.eu",
            "saml_source": "manual",
            "saml_idp_entity_id": "urn:x",
        },
    )
    assert response.status_code == 302
    sso_connection.refresh_from_db()
    assert sso_connection.name == "PingOne EU"
    assert sso_connection.domain_names == ["acme.eu", "acme.test"]
    assert sso_connection.saml_idp_entity_id == "urn:x"
    event = last_event(organization, "sso_connection.update")
    assert event.after["name"] == "PingOne EU"
    assert event.after["saml_idp_entity_id"] == "urn:x"


def test_edit_page_shows_the_values_to_paste_with_copy_buttons(admin_client, organization, sso_connection):
    html = admin_client.get(reverse("sso_edit", args=[sso_connection.pk])).content.decode()
    base = f"http://testserver/sso/{sso_connection.public_id}"
    for element_id, value in [
        ("sp-entity-id", f"{base}/saml/metadata/"),
        ("sp-acs-url", f"{base}/saml/acs/"),
        ("sp-metadata-url", f"{base}/saml/metadata/"),
        ("sp-nameid-format", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
        ("sp-login-url", f"{base}/login/"),
    ]:
        assert f'<code id="{element_id}">{value}</code>' in html
        assert f'data-copy-target="{element_id}"' in html
    # A draft: the badge, and no Test sign-in until it is complete.
    assert 'data-testid="sso-state">Draft<' in html
    assert 'data-testid="test-sign-in"' not in html
    assert "<script" not in html.split("</head>", 1)[1]  # copy buttons come from static/admincenter/app.js


def test_a_ready_connection_offers_test_sign_in(admin_client, organization, sso_connection):
    services.sso_connection_update(
        organization=organization,
        connection=sso_connection,
        saml_idp_entity_id=IDP_ENTITY_ID,
        saml_idp_sso_url=IDP_SSO_URL,
        saml_idp_x509_cert=certificate_pem(),
        actor=OPERATOR,
    )
    html = admin_client.get(reverse("sso_edit", args=[sso_connection.pk])).content.decode()
    test_url = reverse("sso:test", kwargs={"public_id": sso_connection.public_id})
    assert f'href="{test_url}" data-testid="test-sign-in"' in html
    assert 'data-testid="sso-state">Ready<' in html


def test_oidc_edit_page_shows_the_redirect_uri_and_default_claims(admin_client, organization, settings):
    settings.PUBLIC_BASE_URL = "https://id.acme.example"
    connection = services.sso_connection_create(
        organization=organization, name="Entra", protocol="oidc", actor=OPERATOR
    )
    html = admin_client.get(reverse("sso_edit", args=[connection.pk])).content.decode()
    redirect_uri = f"https://id.acme.example/sso/{connection.public_id}/oidc/callback/"
    assert f'<code id="sp-redirect-uri">{redirect_uri}</code>' in html
    assert 'id="sp-acs-url"' not in html
    assert 'placeholder="given_name"' in html  # sso.identity.DEFAULT_ATTRIBUTES for OIDC


def resubmitted(page) -> dict:
    """What a browser posts back for an edit page nobody changed."""
    data = {}
    for name, value in page.context["form"].initial.items():
        if value is True:
            data[name] = "on"
        elif value not in (None, False):
            data[name] = value
    return data


@pytest.mark.parametrize("protocol", ["saml", "oidc"])
def test_saving_an_unchanged_connection_changes_and_audits_nothing(admin_client, organization, protocol):
    settings = (
        {
            "saml_idp_entity_id": IDP_ENTITY_ID,
            "saml_idp_sso_url": IDP_SSO_URL,
            "saml_idp_x509_cert": certificate_pem(),
            "saml_allow_idp_initiated": True,
        }
        if protocol == "saml"
        else {
            "oidc_issuer": "https://login.example",
            "oidc_client_id": "app",
            "oidc_client_secret": SECRET,
            "group_claims_enabled": True,
            "groups_attribute": "roles",
        }
    )
    connection = services.sso_connection_create(
        organization=organization, name="IdP", protocol=protocol, domains=["idp.example"], actor=OPERATOR, **settings
    )
    stored = {f.attname: getattr(connection, f.attname) for f in SsoConnection._meta.concrete_fields}
    url = reverse("sso_edit", args=[connection.pk])
    response = admin_client.post(url, resubmitted(admin_client.get(url)))
    assert response.status_code == 302
    connection = SsoConnection.objects.get(pk=connection.pk)
    assert {f.attname: getattr(connection, f.attname) for f in SsoConnection._meta.concrete_fields} == stored
    assert connection.is_ready
    assert not AuditEvent.objects.filter(action="sso_connection.update").exists()


def test_editing_another_organizations_connection_is_404(admin_client, organization, other_organization):
    foreign = other_organization.sso_connections.get()
    assert admin_client.get(reverse("sso_edit", args=[foreign.pk])).status_code == 404
    assert admin_client.post(reverse("sso_edit", args=[foreign.pk]), sso_data()).status_code == 404


def test_delete_an_sso_connection_but_not_the_scim_one(admin_client, scim_organization, sso_connection):
    other = services.sso_connection_create(
        organization=scim_organization, name="Spare", protocol="saml", actor=OPERATOR
    )
    response = admin_client.post(reverse("sso_delete", args=[other.pk]))
    assert response.status_code == 302
    assert last_event(scim_organization, "sso_connection.delete").target_label == "Spare"
    page = admin_client.get(reverse("sso_delete", args=[sso_connection.pk]))
    assert b"cannot be deleted" in page.content
    response = admin_client.post(reverse("sso_delete", args=[sso_connection.pk]))
    assert response.status_code == 403
    assert b"Disable SCIM provisioning before deleting it" in response.content
    assert SsoConnection.objects.filter(pk=sso_connection.pk).exists()


# --- Provisioning -----------------------------------------------------------------


def test_switching_to_scim_first_shows_what_changes(admin_client, organization, sso_connection, custom_group):
    released = GroupFactory(organization=organization, name="Old SCIM group")
    released.scim_released_at = released.created_at
    released.save()
    response = admin_client.get(reverse("provisioning_scim"), {"connection": sso_connection.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert "JIT provisioning stops." in html
    assert "<code>acme.test</code>" in html
    assert "Marketing" in html and "Old SCIM group" in html and "Formerly SCIM" in html
    organization.refresh_from_db()
    assert organization.provisioning_mode == "jit"  # nothing changed yet


def test_switching_to_scim_needs_a_connection_of_this_organization(admin_client, organization, other_organization):
    response = admin_client.get(
        reverse("provisioning_scim"), {"connection": other_organization.sso_connections.get().pk}
    )
    assert response.status_code == 400
    assert response.context["enable_form"].errors["connection"]
    response = admin_client.post(reverse("provisioning_scim"), {"connection": ""})
    assert response.status_code == 400


def test_confirm_scim_and_get_the_first_token_once(admin_client, organization, sso_connection):
    response = admin_client.post(
        reverse("provisioning_scim"), {"connection": sso_connection.pk, "first_token_label": "PingOne prod"}
    )
    assert response.status_code == 200
    organization.refresh_from_db()
    assert organization.provisioning_mode == "scim"
    assert last_event(organization, "scim.enable").actor_label == "admin@acme.test"
    raw = TOKEN_RE.search(response.content.decode()).group(1)
    assert ScimToken.objects.get(token_hash=hash_token(raw)).label == "PingOne prod"
    assert "no-store" in response["Cache-Control"]


def test_confirm_scim_without_a_token_label_redirects_to_tokens(admin_client, organization, sso_connection):
    response = admin_client.post(reverse("provisioning_scim"), {"connection": sso_connection.pk})
    assert response.status_code == 302
    assert response["Location"] == reverse("scim_tokens")
    assert ScimToken.objects.count() == 0


def test_switching_back_to_jit_explains_and_releases(admin_client, scim_organization, scim_group, issued_scim_token):
    page = admin_client.get(reverse("provisioning_jit"))
    html = page.content.decode()
    assert "1 SCIM token is revoked." in html
    assert "1 SCIM-managed user becomes editable" in html
    assert "1 SCIM group becomes custom groups" in html or "1 SCIM group becomes" in html
    response = admin_client.post(reverse("provisioning_jit"))
    assert response.status_code == 302
    scim_organization.refresh_from_db()
    assert scim_organization.provisioning_mode == "jit"
    assert ScimToken.objects.get(pk=issued_scim_token.token.pk).revoked_at is not None
    event = last_event(scim_organization, "scim.disable")
    assert event.after["users_released"] == 1 and event.after["groups_released"] == 1


def test_on_scim_deactivate_is_editable_and_audited(admin_client, organization):
    page = admin_client.get(reverse("provisioning"))
    assert b'value="delete"' in page.content
    response = admin_client.post(reverse("provisioning_deactivate_action"), {"on_scim_deactivate": "delete"})
    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.on_scim_deactivate == "delete"
    event = last_event(organization, "organization.update")
    assert (event.before, event.after) == ({"on_scim_deactivate": "disable"}, {"on_scim_deactivate": "delete"})
    response = admin_client.post(reverse("provisioning_deactivate_action"), {"on_scim_deactivate": "explode"})
    assert response.status_code == 400
    assert response.context["deactivate_form"].errors["on_scim_deactivate"]


def test_provisioning_without_connections_asks_for_one(admin_client, organization, sso_connection):
    sso_connection.delete()
    html = admin_client.get(reverse("provisioning")).content.decode()
    assert "SCIM needs an SSO connection" in html


# --- SCIM tokens -----------------------------------------------------------------


def test_tokens_page_in_jit_mode_points_to_provisioning(admin_client, organization):
    html = admin_client.get(reverse("scim_tokens")).content.decode()
    assert "SCIM is off." in html
    assert "Generate token" not in html


def test_generate_a_token_shows_it_exactly_once(admin_client, scim_organization):
    response = admin_client.post(reverse("scim_tokens"), token_form(admin_client))
    assert response.status_code == 200
    html = response.content.decode()
    raw = TOKEN_RE.search(html).group(1)
    assert "This is the only time the token is shown." in html
    assert 'data-copy-target="new-token-value"' in html
    assert "no-store" in response["Cache-Control"]
    token = ScimToken.objects.get(token_hash=hash_token(raw))
    assert token.label == "Okta prod" and token.expires_at is not None
    # Never stored: not in the session, not in an audit event, not on the next page view.
    session = admin_client.session
    assert raw not in str(dict(session.items()))
    assert not any(raw in str(e.before) + str(e.after) for e in AuditEvent.objects.all())
    assert raw not in admin_client.get(reverse("scim_tokens")).content.decode()
    assert token.token_prefix in admin_client.get(reverse("scim_tokens")).content.decode()
    assert last_event(scim_organization, "scim.token.create").target_label == f"Okta prod ({token.token_prefix})"


def test_resubmitting_the_token_form_does_not_mint_a_second_token(admin_client, scim_organization):
    data = token_form(admin_client)
    admin_client.post(reverse("scim_tokens"), data)
    response = admin_client.post(reverse("scim_tokens"), data)
    assert response.status_code == 409
    assert b"already submitted" in response.content
    assert ScimToken.objects.filter(organization=scim_organization).count() == 1


def test_token_form_errors(admin_client, scim_organization):
    response = admin_client.post(reverse("scim_tokens"), token_form(admin_client, label=""))
    assert response.status_code == 400
    assert response.context["form"].errors["label"]
    response = admin_client.post(reverse("scim_tokens"), token_form(admin_client, nonce="forged"))
    assert response.status_code == 400
    assert "expired" in str(response.context["form"].errors)
    for i in range(2):
        services.scim_token_issue(organization=scim_organization, label=f"t{i}", actor=OPERATOR)
    admin_client.post(reverse("scim_tokens"), token_form(admin_client))
    response = admin_client.post(reverse("scim_tokens"), token_form(admin_client))
    assert response.status_code == 409
    assert "live SCIM tokens" in response.context["form"].errors["label"][0]


def test_a_refused_token_form_can_be_submitted_again(admin_client, scim_organization):
    issued = [
        services.scim_token_issue(organization=scim_organization, label=f"t{i}", actor=OPERATOR) for i in range(3)
    ]
    data = token_form(admin_client)
    assert admin_client.post(reverse("scim_tokens"), data).status_code == 409
    services.scim_token_revoke(organization=scim_organization, token=issued[0].token, actor=OPERATOR)
    response = admin_client.post(reverse("scim_tokens"), data)
    assert response.status_code == 200
    assert TOKEN_RE.search(response.content.decode())


def test_never_expiring_token(admin_client, scim_organization):
    admin_client.post(reverse("scim_tokens"), token_form(admin_client, expiry="never", label="forever"))
    assert ScimToken.objects.get(label="forever").expires_at is None


def test_token_list_shows_prefix_label_creator_last_use_expiry_and_state(
    admin_client, scim_organization, issued_scim_token, revoked_scim_token
):
    html = admin_client.get(reverse("scim_tokens")).content.decode()
    token = issued_scim_token.token
    assert f"<code>{token.token_prefix}…</code>" in html
    assert "PingOne prod" in html and "tests" in html
    assert "Active" in html and "Revoked" in html
    assert "never" in html


def test_revoke_a_token_after_confirmation(admin_client, scim_organization, issued_scim_token):
    token = issued_scim_token.token
    page = admin_client.get(reverse("scim_token_revoke", args=[token.pk]))
    assert b"stops working immediately" in page.content
    response = admin_client.post(reverse("scim_token_revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == "admin_user:admin@acme.test"
    assert last_event(scim_organization, "scim.token.revoke").actor_label == "admin@acme.test"
    response = admin_client.post(reverse("scim_token_revoke", args=[token.pk]))
    assert response.status_code == 409


# --- Connect your IdP ------------------------------------------------------------


@pytest.mark.parametrize(
    ("idp", "expected"),
    [
        (
            "pingone",
            [
                "/Users",
                "/Groups",
                "2.0",
                "OAuth 2 Bearer Token",
                'username Eq "%s"',
                "userName",
                "Allow users to be disabled or deprovisioned",
            ],
        ),
        ("entra", ["Tenant URL", "aadOptscim062020", "objectId", "Sync only assigned users and groups"]),
        ("okta", ["SCIM connector base URL", "HTTP Header", "Push New Users", "Sync Password", "Create Group"]),
    ],
)
def test_connect_your_idp_guides(admin_client, scim_organization, idp, expected):
    html = admin_client.get(reverse("connect_idp"), {"idp": idp}).content.decode()
    assert "http://testserver/api/scim/v2" in html
    for value in expected:
        assert value in html, value
    assert html.count("data-copy-target=") >= 4


def test_connect_your_idp_uses_the_configured_base_url(admin_client, scim_organization, settings):
    settings.SCIM_BASE_URL = "https://id.acme.example/api/scim/v2"
    html = admin_client.get(reverse("connect_idp")).content.decode()
    assert "https://id.acme.example/api/scim/v2" in html
    assert "is not HTTPS" not in html
    settings.SCIM_BASE_URL = "https://bad_host.example/api/scim/v2"
    html = admin_client.get(reverse("connect_idp"), {"idp": "okta"}).content.decode()
    assert "underscore" in html


def test_settings_pages_do_not_touch_other_organizations(admin_client, other_organization):
    admin_client.post(reverse("provisioning_deactivate_action"), {"on_scim_deactivate": "delete"})
    assert Organization.objects.get(pk=other_organization.pk).on_scim_deactivate == "disable"
    assert User.objects.filter(email="hank@globex.test").exists()


# --- Connect your IdP: single sign-on ----------------------------------------------


def ready_saml(organization):
    connection = organization.sso_connections.get(name="PingOne")
    return services.sso_connection_update(
        organization=organization,
        connection=connection,
        saml_idp_entity_id=IDP_ENTITY_ID,
        saml_idp_sso_url=IDP_SSO_URL,
        saml_idp_x509_cert=certificate_pem(),
        actor=OPERATOR,
    )


@pytest.mark.parametrize(
    ("idp", "labels_in_order"),
    [
        ("pingone", ["ACS URLs", "Entity ID", "Subject NameID Format", "saml_subject"]),
        (
            "entra",
            [
                "Identifier (Entity ID)",
                "Reply URL (Assertion Consumer Service URL)",
                "Sign on URL",
                "Attributes &amp; Claims",
                "Unique User Identifier (Name ID)",
            ],
        ),
        ("okta", ["Single sign-on URL", "Audience URI (SP Entity ID)", "Name ID format", "Application username"]),
    ],
)
def test_connect_your_idp_saml_guide_has_the_connections_values_in_the_vendors_order(
    admin_client, organization, settings, idp, labels_in_order
):
    settings.PUBLIC_BASE_URL = "https://id.acme.example"
    connection = ready_saml(organization)
    html = admin_client.get(reverse("connect_idp"), {"idp": idp}).content.decode()
    guide = html[html.index('id="sso-guide"') : html.index('id="guide"')]
    base = f"https://id.acme.example/sso/{connection.public_id}"
    assert f"{base}/saml/acs/</code>" in guide
    assert f"{base}/saml/metadata/</code>" in guide
    positions = [guide.index(label) for label in labels_in_order]
    assert positions == sorted(positions)
    assert guide.count("data-copy-target=") >= 3
    assert "are not HTTPS" not in guide


@pytest.mark.parametrize(
    ("idp", "words"),
    [
        ("pingone", ["OIDC Web App", "Redirect URIs", "Token Endpoint Authentication Method", "Client Secret Post"]),
        ("entra", ["App registrations", "Redirect URI (Web)", "Certificates &amp; secrets", "Token configuration"]),
        ("okta", ["OIDC - OpenID Connect", "Sign-in redirect URIs", "Client authentication", "groups"]),
    ],
)
def test_connect_your_idp_oidc_guide_shows_the_redirect_uri(admin_client, organization, idp, words):
    connection = services.sso_connection_create(
        organization=organization,
        name="Entra",
        protocol="oidc",
        oidc_token_auth_method="client_secret_post",
        actor=OPERATOR,
    )
    html = admin_client.get(reverse("connect_idp"), {"idp": idp, "connection": connection.pk}).content.decode()
    guide = html[html.index('id="sso-guide"') : html.index('id="guide"')]
    assert f"http://testserver/sso/{connection.public_id}/oidc/callback/</code>" in guide
    assert "/saml/acs/" not in guide
    for word in words:
        assert word in guide, word
    assert "are not HTTPS" in guide  # the test server is plain http


def test_connect_your_idp_guide_shows_only_this_organizations_connections(
    admin_client, organization, other_organization
):
    foreign = other_organization.sso_connections.get()
    html = admin_client.get(reverse("connect_idp"), {"connection": foreign.pk}).content.decode()
    assert str(foreign.public_id) not in html
    assert str(organization.sso_connections.get().public_id) in html


def test_connect_your_idp_without_connections_asks_for_one(admin_client, organization, sso_connection):
    sso_connection.delete()
    html = admin_client.get(reverse("connect_idp")).content.decode()
    assert "No SSO connection yet." in html
