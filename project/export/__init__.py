"""The export app: one streaming CSV export, served natively under WSGI and ASGI."""
