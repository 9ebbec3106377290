"""Sign in (rate limited), sign out, password reset by email and the language switch."""

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from ruche.web import ratelimit
from ruche.web.views.common import LANGUAGE_CODES, web_view

# A signed-in session lasts this long without activity (the cookie is renewed when used).
SESSION_SECONDS = getattr(settings, "RUCHE_SESSION_SECONDS", 12 * 3600)


class SignInForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("Email"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        "invalid_login": _("Wrong email or password."),
        "inactive": _("This account is inactive."),
        "rate_limited": _("Too many failed attempts. Try again in a few minutes."),
    }

    def clean_username(self):
        # Emails are stored in lower case (ruche.accounts.models.UserManager).
        return self.cleaned_data["username"].strip().lower()

    def clean(self):
        email = self.cleaned_data.get("username") or self.data.get("username", "")
        address = ratelimit.client_address(self.request)
        if ratelimit.login_blocked(email, address):
            raise forms.ValidationError(self.error_messages["rate_limited"], code="rate_limited")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            ratelimit.login_failed(email, address)
            raise
        ratelimit.login_succeeded(email)
        return cleaned


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    template_name = "web/auth/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        self.request.session.set_expiry(SESSION_SECONDS)
        locale = form.get_user().locale
        if locale in LANGUAGE_CODES:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, locale, samesite="Lax")
        return response


sign_in = SignInView.as_view()
sign_out = auth_views.LogoutView.as_view(next_page=reverse_lazy("web:login"))
password_reset = auth_views.PasswordResetView.as_view(
    template_name="web/auth/password_reset.html",
    email_template_name="web/auth/password_reset_email.txt",
    subject_template_name="web/auth/password_reset_subject.txt",
    success_url=reverse_lazy("web:password_reset_done"),
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="web/auth/password_reset_done.html"
)
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="web/auth/password_reset_confirm.html",
    success_url=reverse_lazy("web:password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="web/auth/password_reset_complete.html"
)


@require_POST
@web_view
def set_language(request: HttpRequest):
    """Save the user's language and send them back where they were."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    if language in LANGUAGE_CODES:
        request.user.locale = language
        request.user.save(update_fields=["locale"])
        translation.activate(language)
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
    return response
