"""Admin pages for registries and jobs (credentials never shown)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from images.models import Job, Registry


class RegistryForm(forms.ModelForm[Registry]):
    # Write-only: an empty field keeps the stored password.
    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = Registry
        fields = ["name", "url", "server", "username", "password", "tls_verify", "tls_ca", "teams"]

    def clean_password(self) -> str:
        given: str = self.cleaned_data.get("password") or ""
        return given or (self.instance.password if self.instance.pk else "")


@admin.register(Registry)
class RegistryAdmin(admin.ModelAdmin[Registry]):
    form = RegistryForm
    list_display = ["name", "url", "server", "username", "tls_verify"]
    filter_horizontal = ["teams"]
    search_fields = ["name", "url", "server"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    list_display = ["id", "kind", "status", "host", "user", "created_at", "finished_at"]
    list_filter = ["kind", "status", "host"]
    search_fields = ["id", "user__username", "error"]
    readonly_fields = [field.name for field in Job._meta.get_fields() if hasattr(field, "attname")]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
