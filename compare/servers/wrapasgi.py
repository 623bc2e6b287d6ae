"""The ASGI entry point a stack loads for a user's project: their application, wrapped."""

from compare.servers.appwrap import load, wrap_asgi
from compare.settings import DSC_APP_ASGI

application = wrap_asgi(load(DSC_APP_ASGI.name))
