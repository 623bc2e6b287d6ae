"""URLs served under ASGI: the same paths, bound to the async views."""

from django.urls import path

from project.export import views

urlpatterns = [
    path("export.csv", views.export_csv_async, name="export"),
    path("healthz", views.healthz_async, name="healthz"),
    path("ping", views.ping_async, name="ping"),
]
