"""HTTP: the Starlette application, the REST compatibility layer and the middleware."""
