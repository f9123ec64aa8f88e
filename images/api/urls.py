"""REST routes of the images app, mounted under /api/v1/ by dockerweb.urls."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from images.api.jobs import JobViewSet
from images.api.registries import RegistryViewSet
from images.api.views import ImageListViewSet, ImageViewSet

top = SimpleRouter()
top.register("images", ImageListViewSet, basename="images")
top.register("jobs", JobViewSet, basename="job")
top.register("registries", RegistryViewSet, basename="registry")
per_host = SimpleRouter()
per_host.register("images", ImageViewSet, basename="image")

urlpatterns = [
    *top.urls,
    path("hosts/<int:host_pk>/", include(per_host.urls)),
]
