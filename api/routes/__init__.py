"""The API's routers, one module per family of endpoints."""
