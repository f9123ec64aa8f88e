from django.urls import include, path
from rest_framework.routers import SimpleRouter

from containers.api.views import ContainerListViewSet, ContainerViewSet

across_hosts = SimpleRouter()
across_hosts.register("containers", ContainerListViewSet, basename="containers")
per_host = SimpleRouter()
per_host.register("containers", ContainerViewSet, basename="container")

urlpatterns = [
    *across_hosts.urls,
    path("hosts/<int:host_pk>/", include(per_host.urls)),
]
