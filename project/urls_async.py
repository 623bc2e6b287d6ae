"""URLs served under ASGI: the same paths, bound to the async views."""

from django.conf import settings
from django.urls import URLPattern, URLResolver, path

from project.export import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("export.csv", views.export_csv_async, name="export"),
    path("healthz", views.healthz_async, name="healthz"),
    path("ping", views.ping_async, name="ping"),
]

# The startproject profile's admin, as a new project has it (its views are sync under ASGI too).
if "django.contrib.admin" in settings.INSTALLED_APPS:
    from django.contrib import admin

    urlpatterns.append(path("admin/", admin.site.urls))
