"""The service package; `main.create_app` is where it is put together."""

__version__ = "0.1.0"
