"""Sign-in through the organization's IdP: protocol fields on SSO connections (replacing the
free-form ``settings``), a public id for their URLs, verified domains, "require SSO" with
break-glass users."""

import secrets
import uuid

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models
from django.db.models import Q

# The keys the Admin Center form used to keep in SsoConnection.settings.
_SETTINGS_TO_FIELDS = {
    "saml_entity_id": "saml_idp_entity_id",
    "saml_sso_url": "saml_idp_sso_url",
    "saml_certificate": "saml_idp_x509_cert",
    "oidc_issuer": "oidc_issuer",
    "oidc_client_id": "oidc_client_id",
    "issuer": "oidc_issuer",
    "client_id": "oidc_client_id",
}


def copy_settings_to_fields(apps, schema_editor):
    from admincenter.encryption import encrypt

    SsoConnection = apps.get_model("admincenter", "SsoConnection")
    for connection in SsoConnection.objects.all():
        values = connection.settings or {}
        for key, field in _SETTINGS_TO_FIELDS.items():
            if values.get(key):
                setattr(connection, field, str(values[key])[:1024])
        if values.get("client_secret"):
            connection.oidc_client_secret_encrypted = encrypt(str(values["client_secret"]))
        connection.public_id = uuid.uuid4()
        connection.save()


def fill_domain_rows(apps, schema_editor):
    SsoDomain = apps.get_model("admincenter", "SsoDomain")
    for row in SsoDomain.objects.select_related("connection"):
        row.organization_id = row.connection.organization_id
        row.verification_token = secrets.token_urlsafe(24)
        row.save(update_fields=["organization", "verification_token"])


class Migration(migrations.Migration):
    dependencies = [
        ("admincenter", "0005_scim_username_index"),
    ]

    operations = [
        migrations.RenameField("organization", "selective_local_login", "require_sso"),
        migrations.AddField(
            model_name="user",
            name="local_login_allowed",
            field=models.BooleanField(default=False),
        ),
        # --- SSO connection protocol fields ---------------------------------------
        migrations.AddField("ssoconnection", "public_id", models.UUIDField(null=True, editable=False)),
        migrations.AddField("ssoconnection", "saml_idp_entity_id", models.CharField(blank=True, max_length=1024)),
        migrations.AddField("ssoconnection", "saml_idp_sso_url", models.URLField(blank=True, max_length=1024)),
        migrations.AddField(
            "ssoconnection",
            "saml_idp_x509_cert",
            models.TextField(blank=True, help_text="PEM or base64 body of the IdP signing certificate."),
        ),
        migrations.AddField("ssoconnection", "saml_idp_metadata_url", models.URLField(blank=True, max_length=1024)),
        migrations.AddField(
            "ssoconnection",
            "saml_nameid_format",
            models.CharField(
                choices=[
                    ("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", "Email address"),
                    ("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified", "Unspecified"),
                    ("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", "Persistent"),
                ],
                default="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                max_length=128,
            ),
        ),
        migrations.AddField("ssoconnection", "saml_allow_idp_initiated", models.BooleanField(default=False)),
        migrations.AddField("ssoconnection", "oidc_issuer", models.URLField(blank=True, max_length=1024)),
        migrations.AddField("ssoconnection", "oidc_client_id", models.CharField(blank=True, max_length=255)),
        migrations.AddField("ssoconnection", "oidc_client_secret_encrypted", models.TextField(blank=True)),
        migrations.AddField(
            "ssoconnection",
            "oidc_scopes",
            models.CharField(blank=True, default="openid email profile", max_length=255),
        ),
        migrations.AddField(
            "ssoconnection",
            "oidc_token_auth_method",
            models.CharField(
                choices=[
                    ("client_secret_basic", "client_secret_basic (HTTP Basic)"),
                    ("client_secret_post", "client_secret_post (form body)"),
                ],
                default="client_secret_basic",
                max_length=32,
            ),
        ),
        migrations.AddField("ssoconnection", "email_attribute", models.CharField(blank=True, max_length=255)),
        migrations.AddField("ssoconnection", "given_name_attribute", models.CharField(blank=True, max_length=255)),
        migrations.AddField("ssoconnection", "family_name_attribute", models.CharField(blank=True, max_length=255)),
        migrations.AddField("ssoconnection", "groups_attribute", models.CharField(blank=True, max_length=255)),
        migrations.AddField("ssoconnection", "group_claims_enabled", models.BooleanField(default=False)),
        migrations.AddField("ssoconnection", "group_claims_grant_admin", models.BooleanField(default=False)),
        migrations.RunPython(copy_settings_to_fields, migrations.RunPython.noop),
        migrations.AlterField(
            "ssoconnection",
            "public_id",
            models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.RemoveField("ssoconnection", "settings"),
        # --- Verified domains -------------------------------------------------------
        migrations.AlterField("ssodomain", "domain", models.CharField(max_length=253)),
        migrations.AddField(
            "ssodomain",
            "organization",
            models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="sso_domains",
                to="admincenter.organization",
            ),
        ),
        migrations.AddField("ssodomain", "verification_token", models.CharField(default="", max_length=64)),
        migrations.AddField("ssodomain", "verified_at", models.DateTimeField(blank=True, null=True)),
        migrations.AddField("ssodomain", "verified_by", models.CharField(blank=True, max_length=255)),
        migrations.AddField(
            "ssodomain",
            "created_at",
            models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(fill_domain_rows, migrations.RunPython.noop),
        migrations.AlterField(
            "ssodomain",
            "organization",
            models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="sso_domains",
                to="admincenter.organization",
            ),
        ),
        migrations.AlterField("ssodomain", "verification_token", models.CharField(max_length=64)),
        migrations.AddConstraint(
            "ssodomain",
            models.UniqueConstraint(fields=["organization", "domain"], name="sso_domain_unique_per_org"),
        ),
        migrations.AddConstraint(
            "ssodomain",
            models.UniqueConstraint(
                condition=Q(verified_at__isnull=False),
                fields=["domain"],
                name="sso_domain_verified_once",
            ),
        ),
    ]
