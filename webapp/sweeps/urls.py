from __future__ import annotations

from django.urls import path

from webapp.sweeps import views

urlpatterns = [
    path("", views.sweep_list, name="sweep_list"),
    path("new/", views.sweep_create, name="sweep_create"),
    path("estimate/", views.sweep_estimate, name="sweep_estimate"),
    path("<int:pk>/", views.sweep_detail, name="sweep_detail"),
    path("<int:pk>/stop/", views.sweep_stop, name="sweep_stop"),
    path("<int:pk>/resume/", views.sweep_resume, name="sweep_resume"),
    path("<int:pk>/add/", views.sweep_add_trials, name="sweep_add_trials"),
    path("<int:pk>/widen/", views.sweep_widen, name="sweep_widen"),
]
