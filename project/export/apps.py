"""App config for the export app."""

from django.apps import AppConfig


class ExportConfig(AppConfig):
    """The export app."""

    name = "project.export"
    label = "export"
    default_auto_field = "django.db.models.BigAutoField"
