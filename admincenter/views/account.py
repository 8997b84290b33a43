"""The signed-in person's own account: changing their password. Open to every signed-in
user (not only admins); the change goes through ``services.account`` so it is audited."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from admincenter.errors import DomainError
from admincenter.forms import add_domain_error
from admincenter.permissions import actor_for
from admincenter.services.account import user_password_change
from admincenter.views.common import status_for


@sensitive_post_parameters()
@login_required
@require_http_methods(["GET", "POST"])
def password_change(request):
    form = PasswordChangeForm(request.user, request.POST or None, label_suffix="")
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                user = user_password_change(
                    user=request.user,
                    old_password=form.cleaned_data["old_password"],
                    new_password=form.cleaned_data["new_password1"],
                    actor=actor_for(request),
                )
            except DomainError as error:
                add_domain_error(form, error)
                status = status_for(error)
            else:
                update_session_auth_hash(request, user)
                messages.success(request, "Your password was changed.")
                return redirect("password_change_done")
    return render(
        request, "registration/password_change_form.html", {"form": form, "section": "account"}, status=status
    )


@login_required
def password_change_done(request):
    return render(request, "registration/password_change_done.html", {"section": "account"})
