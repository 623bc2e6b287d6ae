"""URLs served under WSGI: the sync views."""

from django.urls import path

from project.export import views

urlpatterns = [
    path("export.csv", views.export_csv, name="export"),
    path("healthz", views.healthz, name="healthz"),
    path("ping", views.ping, name="ping"),
]
