from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("webapp.experiments.urls")),
    path("datasets/", include("webapp.datasets.urls")),
    path("sweeps/", include("webapp.sweeps.urls")),
    path("api/", include("webapp.api_urls")),
]
