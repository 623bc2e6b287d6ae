"""One URL per case."""

from django.urls import path

from . import views

urlpatterns = [
    path("sync/", views.sync_generator),
    path("async/", views.async_generator),
    path("whole/", views.whole),
    path("file/", views.file),
    path("behind-mw/", views.behind_middleware),
    path("raises/", views.raises),
]
