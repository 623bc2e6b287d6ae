"""URLs served under WSGI: the sync views."""

from django.conf import settings
from django.urls import URLPattern, URLResolver, path

from project.export import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("export.csv", views.export_csv, name="export"),
    path("healthz", views.healthz, name="healthz"),
    path("ping", views.ping, name="ping"),
]

# The startproject profile's admin, as a new project has it (its views are sync under ASGI too).
if "django.contrib.admin" in settings.INSTALLED_APPS:
    from django.contrib import admin

    urlpatterns.append(path("admin/", admin.site.urls))
