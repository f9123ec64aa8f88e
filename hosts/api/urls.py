from django.urls import path
from rest_framework.routers import DefaultRouter

from hosts.api.access_views import AuditViewSet, GrantViewSet, MeView, TeamViewSet
from hosts.api.views import HostViewSet, TokenViewSet

router = DefaultRouter()
router.register("hosts", HostViewSet, basename="host")
router.register("tokens", TokenViewSet, basename="token")
router.register("teams", TeamViewSet, basename="team")
router.register("grants", GrantViewSet, basename="grant")
router.register("audit", AuditViewSet, basename="audit")

urlpatterns = [path("me/", MeView.as_view(), name="me"), *router.urls]
