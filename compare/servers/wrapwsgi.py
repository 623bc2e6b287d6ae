"""The WSGI entry point a stack loads for a user's project: their application, wrapped."""

from compare.servers.appwrap import load, wrap_wsgi
from compare.settings import DSC_APP_WSGI

application = wrap_wsgi(load(DSC_APP_WSGI.name))
