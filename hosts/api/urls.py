from django.urls import include, path
from rest_framework.routers import DefaultRouter, SimpleRouter

from hosts.api.access_views import AuditViewSet, GrantViewSet, MeView, TeamViewSet, UserViewSet
from hosts.api.certificates import CertificateViewSet
from hosts.api.resources import EventViewSet, NetworkViewSet, VolumeViewSet
from hosts.api.views import HostViewSet, TokenViewSet

router = DefaultRouter()
router.register("hosts", HostViewSet, basename="host")
router.register("tokens", TokenViewSet, basename="token")
router.register("certificates", CertificateViewSet, basename="certificate")
router.register("users", UserViewSet, basename="user")
router.register("teams", TeamViewSet, basename="team")
router.register("grants", GrantViewSet, basename="grant")
router.register("audit", AuditViewSet, basename="audit")

per_host = SimpleRouter()
per_host.register("networks", NetworkViewSet, basename="network")
per_host.register("volumes", VolumeViewSet, basename="volume")
per_host.register("events", EventViewSet, basename="event")

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    *router.urls,
    path("hosts/<int:host_pk>/", include(per_host.urls)),
]
