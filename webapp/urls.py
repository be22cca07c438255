from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from webapp.core import api_errors
from webapp.core.bodies import session_check

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("auth/session/", session_check, name="session_check"),
    path("", include("webapp.experiments.urls")),
    path("datasets/", include("webapp.datasets.urls")),
    path("sweeps/", include("webapp.sweeps.urls")),
    path("api/", include("webapp.api_urls")),
]

handler400 = api_errors.handler400
handler403 = api_errors.handler403
handler404 = api_errors.handler404
handler500 = api_errors.handler500
