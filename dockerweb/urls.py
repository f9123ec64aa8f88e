"""Top-level URLs: the REST API under /api/v1/, its schema and docs, the admin, and the dashboard."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

urlpatterns = [
    path("api/v1/", include("hosts.api.urls")),
    path("api/v1/", include("containers.api.urls")),
    path("api/v1/", include("images.api.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The docs page is only HTML; the schema it loads needs a signed-in caller.
    path(
        "api/v1/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[AllowAny]),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
    path("", include("frontend.urls")),
]
handler404 = "dockerweb.api.not_found"
