"""Admin Center forms: input parsing and shape checks only.

Domain rules (reserved names, the lock matrix, uniqueness, the connection limit...) are
enforced by the services; views turn a ``DomainError`` into an error next to the field
it names (``add_domain_error``). Labels are on every field; Django 5.2 renders
``aria-invalid`` and ``aria-describedby`` for errors and help texts.
"""

from __future__ import annotations

import secrets

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core import signing

from admincenter.errors import DomainError
from admincenter.models import (
    OidcTokenAuthMethod,
    ProductInstance,
    Role,
    SamlNameIdFormat,
    ScimDeactivateAction,
    SsoConnection,
    SsoProtocol,
)
from admincenter.services.sso import MAPPING_SETTING_NAMES, OIDC_SETTING_NAMES, SETTING_NAMES
from sso.identity import DEFAULT_ATTRIBUTES
from sso.metadata import fetch_idp_metadata, parse_idp_metadata


class Form(forms.Form):
    """Labels without Django's trailing colon (they sit above their field)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service refusal next to the field it concerns, or above the form."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


class UserProfileForm(Form):
    email = forms.EmailField(label="Email", max_length=254)
    given_name = forms.CharField(label="Given name", max_length=150, required=False)
    family_name = forms.CharField(label="Family name", max_length=150, required=False)


class UserCreateForm(UserProfileForm):
    """The profile fields, the email without autocomplete, and an optional first password."""

    email = forms.EmailField(label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    password = forms.CharField(
        label="Initial password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Optional. Leave empty for people who sign in with SSO.",
    )


class CollaboratorForm(Form):
    email = forms.EmailField(
        label="Email of the collaborator",
        max_length=254,
        help_text="A person whose account belongs to another organization (a partner or an agency).",
    )


class GroupNameForm(Form):
    name = forms.CharField(
        label="Group name",
        max_length=255,
        help_text="Unique in your organization. Names starting with Opti_SCIM_ are kept for your identity provider.",
    )


class MemberAddForm(Form):
    """Adds one person by email. The input gets a type-ahead list from our JS; without
    JS it is a plain email field."""

    email = forms.EmailField(
        label="Add a member by email",
        max_length=254,
        widget=forms.EmailInput(
            attrs={"autocomplete": "off", "data-user-picker": "", "list": "user-picker-options"},
        ),
    )


class GroupChoiceForm(Form):
    """Add the user to one group (a custom group, Admin Center Administrators, or a
    product group for "Add product access")."""

    group = forms.UUIDField(label="Group")


class GrantAddForm(Form):
    instance = forms.ModelChoiceField(
        label="Product instance",
        queryset=ProductInstance.objects.none(),
        empty_label="Choose an instance",
    )
    roles = forms.ModelMultipleChoiceField(
        label="Roles",
        queryset=Role.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="One or more roles of the instance's product.",
    )

    def __init__(self, *args, instances, **kwargs):
        super().__init__(*args, **kwargs)
        instances = list(instances)
        self.fields["instance"].queryset = ProductInstance.objects.filter(pk__in=[i.pk for i in instances])
        self.fields["instance"].choices = [("", "Choose an instance")] + [(i.pk, str(i)) for i in instances]
        product_ids = {i.product_id for i in instances}
        roles = [r for i in {i.product_id: i for i in instances}.values() for r in i.product.roles.all()]
        self.fields["roles"].queryset = Role.objects.filter(product_id__in=product_ids)
        self.fields["roles"].choices = [(r.pk, r.name) for r in roles]
        # For the template: options carry their product so JS can filter the roles,
        # and roles are grouped by product.
        self.instance_options = [(i.pk, str(i), i.product.code) for i in instances]
        self.roles_by_product = {}
        for i in instances:
            self.roles_by_product.setdefault(i.product, list(i.product.roles.all()))


def _domain_lines(value: str) -> list[str]:
    return [d for d in (part.strip() for part in value.replace(",", "\n").splitlines()) if d]


SAML_SOURCE_XML = "xml"
SAML_SOURCE_URL = "url"
SAML_SOURCE_MANUAL = "manual"
SAML_SOURCES = [
    (SAML_SOURCE_XML, "Paste the IdP metadata XML"),
    (SAML_SOURCE_URL, "Give the IdP metadata URL (fetched now, by this server)"),
    (SAML_SOURCE_MANUAL, "Enter the entity ID, SSO URL and certificate"),
]
_MAPPING_KEYS = ("email", "given_name", "family_name", "groups")


def _mapping_placeholder(protocol: str, key: str) -> str:
    names = DEFAULT_ATTRIBUTES[protocol][key]
    if protocol == SsoProtocol.SAML and key == "email":
        return "NameID, " + ", ".join(names[:2])
    return ", ".join(names[:3])


class SsoConnectionForm(Form):
    """Add or edit an SSO connection. Field names are the service's keyword names, so a
    refusal from ``sso_connection_create``/``_update`` lands next to its field.

    The client secret is write-only: a password input that is never filled in, even when
    the form is shown again with errors; left blank on an edit, the stored secret stays."""

    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="Shown to people when a sign-in through it is refused or fails, e.g. 'PingOne'.",
    )
    protocol = forms.ChoiceField(label="Protocol", choices=SsoProtocol.choices)
    domains = forms.CharField(
        label="Email domains",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, for example example.com. Public mail domains such as gmail.com are refused.",
    )

    # SAML 2.0: one of three ways to give the IdP's values.
    saml_source = forms.ChoiceField(
        label="How do you give your IdP's details?",
        choices=SAML_SOURCES,
        initial=SAML_SOURCE_XML,
        widget=forms.RadioSelect,
        required=False,
    )
    saml_idp_metadata_xml = forms.CharField(
        label="IdP metadata XML",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text="The whole metadata document your IdP offers for download.",
    )
    saml_idp_metadata_url = forms.URLField(
        label="IdP metadata URL",
        max_length=1024,
        required=False,
        assume_scheme="https",
        help_text="Fetched when you save, with a time and size limit.",
    )
    saml_idp_entity_id = forms.CharField(label="IdP entity ID (issuer)", max_length=1024, required=False)
    saml_idp_sso_url = forms.URLField(
        label="IdP single sign-on URL (HTTP-Redirect)", max_length=1024, required=False, assume_scheme="https"
    )
    saml_idp_x509_cert = forms.CharField(
        label="IdP signing certificate",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="PEM, with its BEGIN CERTIFICATE and END CERTIFICATE lines.",
    )
    saml_nameid_format = forms.ChoiceField(
        label="NameID format", choices=SamlNameIdFormat.choices, initial=SamlNameIdFormat.EMAIL, required=False
    )
    saml_allow_idp_initiated = forms.BooleanField(
        label="Allow IdP-initiated sign-in",
        required=False,
        help_text="Lets a response that the IdP sends unasked (from its app launcher) sign people in.",
    )

    # OpenID Connect.
    oidc_issuer = forms.URLField(label="Issuer URL", max_length=1024, required=False, assume_scheme="https")
    oidc_client_id = forms.CharField(label="Client ID", max_length=255, required=False)
    oidc_client_secret = forms.CharField(
        label="Client secret",
        max_length=2048,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and never shown again.",
    )
    oidc_scopes = forms.CharField(
        label="Scopes",
        max_length=255,
        required=False,
        initial="openid email profile",
        help_text="Space-separated; must include openid. Add groups if your provider needs it for the groups claim.",
    )
    oidc_token_auth_method = forms.ChoiceField(
        label="Client authentication at the token endpoint",
        choices=OidcTokenAuthMethod.choices,
        initial=OidcTokenAuthMethod.CLIENT_SECRET_BASIC,
        required=False,
    )

    # Attribute (SAML) or claim (OIDC) mapping; blank means the defaults shown as placeholders.
    email_attribute = forms.CharField(label="Email", max_length=255, required=False)
    given_name_attribute = forms.CharField(label="Given name", max_length=255, required=False)
    family_name_attribute = forms.CharField(label="Family name", max_length=255, required=False)
    groups_attribute = forms.CharField(label="Groups", max_length=255, required=False)
    group_claims_enabled = forms.BooleanField(
        label="Use group claims",
        required=False,
        help_text=(
            "At each sign-in, add the person to the existing custom groups named in the groups claim. "
            "Ignored in SCIM mode. Never creates groups."
        ),
    )
    group_claims_grant_admin = forms.BooleanField(
        label="Let group claims add people to Admin Center Administrators",
        required=False,
        help_text="A separate opt-in: anyone your IdP puts in that group becomes an administrator here.",
    )

    SAML_FIELDS = (
        "saml_source",
        "saml_idp_metadata_xml",
        "saml_idp_metadata_url",
        "saml_idp_entity_id",
        "saml_idp_sso_url",
        "saml_idp_x509_cert",
        "saml_nameid_format",
        "saml_allow_idp_initiated",
    )
    OIDC_FIELDS = OIDC_SETTING_NAMES
    MAPPING_FIELDS = MAPPING_SETTING_NAMES
    # Stored values shown when editing (never the client secret).
    _STORED_FIELDS = tuple(name for name in SETTING_NAMES if name != "oidc_client_secret")

    def __init__(self, *args, connection: SsoConnection | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.connection = connection
        protocol = (self.data.get("protocol") if self.is_bound else None) or (
            connection.protocol if connection else SsoProtocol.SAML
        )
        if protocol not in SsoProtocol.values:
            protocol = SsoProtocol.SAML
        for key in _MAPPING_KEYS:
            field = self.fields[f"{key}_attribute"]
            field.widget.attrs["placeholder"] = _mapping_placeholder(protocol, key)
        self.fields["email_attribute"].help_text = "Blank: the defaults shown. For SAML, blank means the NameID."
        if connection is not None and connection.oidc_client_secret_encrypted:
            self.fields["oidc_client_secret"].help_text = "A secret is stored. Leave blank to keep the current secret."
            self.fields["oidc_client_secret"].widget.attrs["placeholder"] = "(unchanged)"
        self.parsed_metadata = None

    @classmethod
    def initial_for(cls, connection: SsoConnection) -> dict:
        initial = {
            "name": connection.name,
            "protocol": connection.protocol,
            "domains": "\n".join(connection.domain_names),
            # The stored values are shown in the manual fields; a save re-reads nothing unless asked.
            "saml_source": SAML_SOURCE_MANUAL if connection.saml_idp_entity_id else SAML_SOURCE_XML,
        }
        for field in cls._STORED_FIELDS:
            initial[field] = getattr(connection, field)
        return initial

    def clean(self):
        """Read the SAML metadata the admin chose to give (pasted or fetched); errors go
        next to the XML or URL field."""
        cleaned = super().clean()
        if cleaned.get("protocol") != SsoProtocol.SAML:
            return cleaned
        source = cleaned.get("saml_source") or SAML_SOURCE_XML
        try:
            if source == SAML_SOURCE_XML and cleaned.get("saml_idp_metadata_xml", "").strip():
                self.parsed_metadata = parse_idp_metadata(
                    cleaned["saml_idp_metadata_xml"], field="saml_idp_metadata_xml"
                )
            elif source == SAML_SOURCE_URL:
                if not cleaned.get("saml_idp_metadata_url"):
                    if "saml_idp_metadata_url" not in self.errors:
                        self.add_error("saml_idp_metadata_url", "Enter the metadata URL, or choose another way.")
                else:
                    self.parsed_metadata = fetch_idp_metadata(
                        cleaned["saml_idp_metadata_url"], field="saml_idp_metadata_url"
                    )
        except DomainError as error:
            add_domain_error(self, error)
        return cleaned

    # The template's fieldsets, in the order shown (admincenter/_fields.html renders each list).
    @property
    def saml_fields_before_idp_initiated(self) -> list:
        return [self[name] for name in self.SAML_FIELDS if name != "saml_allow_idp_initiated"]

    @property
    def oidc_fields(self) -> list:
        return [self[name] for name in self.OIDC_FIELDS]

    @property
    def mapping_fields(self) -> list:
        return [self[name] for name in self.MAPPING_FIELDS]

    def domain_list(self) -> list[str]:
        return _domain_lines(self.cleaned_data.get("domains", ""))

    def connection_values(self) -> dict:
        """Keyword arguments for ``sso_connection_create``/``_update``: name, protocol, domains and
        ``protocol_settings``."""
        return {
            "name": self.cleaned_data["name"],
            "protocol": self.cleaned_data["protocol"],
            "domains": self.domain_list(),
            **self.protocol_settings(),
        }

    def protocol_settings(self) -> dict:
        """Keyword arguments for ``sso_connection_create``/``_update``: the chosen protocol's
        settings and the mapping. A blank client secret is passed as "" (keep the stored one)."""
        data = self.cleaned_data
        settings = {field: data[field] for field in self.MAPPING_FIELDS}
        if data["protocol"] == SsoProtocol.SAML:
            source = data.get("saml_source") or SAML_SOURCE_XML
            if self.parsed_metadata is not None:
                settings.update(self.parsed_metadata.connection_settings())
                settings["saml_idp_metadata_url"] = data["saml_idp_metadata_url"] if source == SAML_SOURCE_URL else ""
            elif source == SAML_SOURCE_MANUAL:
                for field in ("saml_idp_entity_id", "saml_idp_sso_url", "saml_idp_x509_cert", "saml_idp_metadata_url"):
                    settings[field] = data[field]
            settings["saml_nameid_format"] = data["saml_nameid_format"] or SamlNameIdFormat.EMAIL
            settings["saml_allow_idp_initiated"] = data["saml_allow_idp_initiated"]
        else:
            settings.update(
                oidc_issuer=data["oidc_issuer"],
                oidc_client_id=data["oidc_client_id"],
                oidc_client_secret=data["oidc_client_secret"],
                oidc_scopes=data["oidc_scopes"] or "openid email profile",
                oidc_token_auth_method=data["oidc_token_auth_method"] or OidcTokenAuthMethod.CLIENT_SECRET_BASIC,
            )
        return settings


class ScimEnableForm(Form):
    connection = forms.ModelChoiceField(
        label="SSO connection that carries SCIM",
        queryset=SsoConnection.objects.none(),
        empty_label="Choose a connection",
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connection"].queryset = SsoConnection.objects.filter(organization=organization)


class ScimEnableConfirmForm(ScimEnableForm):
    first_token_label = forms.CharField(
        label="Label of the first token",
        max_length=100,
        required=False,
        help_text="Optional. Fill it in to generate the first token now; it is shown once.",
    )


class ScimDeactivateForm(Form):
    on_scim_deactivate = forms.ChoiceField(
        label="Action on active=false",
        choices=ScimDeactivateAction.choices,
        widget=forms.RadioSelect,
    )


TOKEN_EXPIRY_CHOICES = [("365", "1 year"), ("90", "90 days"), ("never", "Never")]
_TOKEN_NONCE_SALT = "admincenter.scim-token-form"


class TokenIssueForm(Form):
    """Generate a SCIM token. ``nonce`` makes a browser's "resubmit the form" after the
    token page was shown refuse to mint a second, unseen token."""

    label = forms.CharField(label="Label", max_length=100, help_text='For example "Okta production".')
    expiry = forms.ChoiceField(label="Expires after", choices=TOKEN_EXPIRY_CHOICES, initial="365")
    nonce = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["nonce"] = signing.dumps(secrets.token_hex(8), salt=_TOKEN_NONCE_SALT)

    def clean_nonce(self) -> str:
        try:
            return signing.loads(self.cleaned_data["nonce"], salt=_TOKEN_NONCE_SALT, max_age=6 * 3600)
        except signing.BadSignature:
            raise forms.ValidationError("The form expired. Reload the page and try again.") from None

    def expires_in_days(self) -> int | None:
        value = self.cleaned_data["expiry"]
        return None if value == "never" else int(value)


class ExportFilterForm(Form):
    product = forms.ChoiceField(label="Product", required=False)
    instance = forms.ChoiceField(label="Instance", required=False)

    def __init__(self, *args, instances, **kwargs):
        super().__init__(*args, **kwargs)
        instances = list(instances)
        products = {i.product.code: i.product.name for i in instances}
        self.fields["product"].choices = [("", "All products"), *sorted(products.items(), key=lambda p: p[1])]
        self.fields["instance"].choices = [("", "All instances")] + [(i.instance_id, str(i)) for i in instances]


# --- Sign-in (admincenter/views/signin.py) ------------------------------------------


class SignInEmailForm(Form):
    """The first step of the sign-in page: the email alone decides where the person signs in."""

    username = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )


class SignInPasswordForm(AuthenticationForm):
    """The password step: Django's checks (the backend, inactive users), the email as the
    user name. ``require SSO`` is decided after it, by ``admincenter.services.signin``."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Wrong email or password. Check both and try again.",
    }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email"


class RequireSsoForm(Form):
    """Settings > Sign-in policy."""

    require_sso = forms.BooleanField(
        label="Require SSO",
        required=False,
        help_text=(
            "People whose home is this organization must sign in with your identity provider. "
            "Password sign-in stays open only to the administrators you mark as break-glass."
        ),
    )


class LocalLoginForm(Form):
    """The break-glass switch on a user's page."""

    local_login_allowed = forms.BooleanField(
        label="Break-glass: may sign in with a password while SSO is required",
        required=False,
    )
