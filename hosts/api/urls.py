from rest_framework.routers import DefaultRouter

from hosts.api.views import HostViewSet, TokenViewSet

router = DefaultRouter()
router.register("hosts", HostViewSet, basename="host")
router.register("tokens", TokenViewSet, basename="token")

urlpatterns = router.urls
