"""The filter and export forms of the Admin Center audit pages.

The boundary: input validation only; a valid form hands back ``AuditFilters`` (or plain
criteria for the request log) for ``admincenter.audit.selectors``.
"""

from __future__ import annotations

from django import forms

from admincenter.audit.selectors import AuditFilters
from admincenter.idp import KNOWN_IDPS
from admincenter.models import ActorType, AuditExportFormat, Outcome


class AuditFilterForm(forms.Form):
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    actor_type = forms.ChoiceField(required=False, label="Actor type", choices=[("", "Any"), *ActorType.choices])
    actor = forms.CharField(required=False, max_length=255, label="Actor")
    action = forms.CharField(
        required=False,
        max_length=64,
        label="Action",
        help_text='Exact name, or a prefix ending in "." such as "group.".',
        widget=forms.TextInput(attrs={"list": "audit-actions"}),
    )
    target = forms.CharField(required=False, max_length=255, label="Target")
    outcome = forms.ChoiceField(required=False, label="Outcome", choices=[("", "Any"), *Outcome.choices])
    q = forms.CharField(required=False, max_length=200, label="Text")
    request_id = forms.CharField(required=False, max_length=64, label="Request id")

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date is before the start date.")
        return data

    def filters(self) -> AuditFilters:
        """The valid fields as filters (an invalid field is left out, and shown as an error)."""
        data = {name: value for name, value in self.cleaned_data.items() if name not in self.errors}
        return AuditFilters.from_dict(data)


class ExportForm(AuditFilterForm):
    format = forms.ChoiceField(choices=AuditExportFormat.choices, initial=AuditExportFormat.CSV)


class RequestFilterForm(forms.Form):
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    idp = forms.ChoiceField(required=False, label="IdP", choices=[("", "Any"), *((i, i) for i in KNOWN_IDPS)])
    errors_only = forms.BooleanField(required=False, label="Errors only")
    request_id = forms.CharField(required=False, max_length=64, label="Request id")
