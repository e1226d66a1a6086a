from django import forms
from django.utils.translation import gettext_lazy as _


class DevSignInForm(forms.Form):
    email = forms.EmailField(label=_("Email address of a seeded user"), max_length=254)
