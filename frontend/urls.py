"""The dashboard's URLs: JSON session endpoints for the app, and the app itself at every other path.

Paths the app must never shadow (the API, websockets, static files, the admin) are excluded from the
catch-all, so they keep answering with their own 404s.
"""

from django.urls import path, re_path

from frontend import views

urlpatterns = [
    path("auth/session/", views.session, name="auth-session"),
    path("auth/login/", views.session_login, name="auth-login"),
    path("auth/logout/", views.session_logout, name="auth-logout"),
    # Named routes other code reverses (settings.LOGIN_URL / LOGIN_REDIRECT_URL).
    path("", views.spa, name="index"),
    path("login/", views.spa, name="login"),
    re_path(r"^(?!api/|ws/|static/|admin/|auth/)(?P<path>.+)$", views.spa, name="dashboard"),
]
