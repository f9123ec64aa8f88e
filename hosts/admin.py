"""Admin for the inventory. TLS material is never shown here; it is set through the API or addhost."""

from django.contrib import admin

from hosts.models import ApiToken, AuditEntry, Grant, Host, Team


@admin.register(Host)
class HostAdmin(admin.ModelAdmin[Host]):
    list_display = ["name", "url", "status", "engine_version", "last_checked_at"]
    list_filter = ["status"]
    search_fields = ["name", "url"]
    exclude = ["tls_ca", "tls_cert", "tls_key"]
    readonly_fields = [
        "status",
        "status_error",
        "engine_id",
        "engine_version",
        "api_version",
        "os_type",
        "operating_system",
        "architecture",
        "kernel_version",
        "ncpu",
        "mem_total",
        "containers_running",
        "containers_paused",
        "containers_stopped",
        "images",
        "last_checked_at",
        "created_by",
    ]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ["name", "user", "key_id", "created_at", "expires_at", "last_used_at"]
    search_fields = ["name", "user__username"]
    readonly_fields = ["user", "name", "key_id", "created_at", "last_used_at"]
    exclude = ["secret_hash"]

    def has_add_permission(self, request: object) -> bool:
        # A token is shown only once at creation, which the admin cannot do; use the API or createtoken.
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin[AuditEntry]):
    """Read-only: the audit log is append-only for everyone."""

    list_display = ["created_at", "username", "entry_point", "host_name", "action", "outcome", "status_code"]
    list_filter = ["outcome", "entry_point"]
    search_fields = ["username", "host_name", "action", "object_name"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin[Team]):
    list_display = ["name", "description", "created_at"]
    filter_horizontal = ["members"]


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin[Grant]):
    list_display = ["__str__", "role", "created_at"]
    list_filter = ["role"]
