"""archgen: generates backend services that already work, and keeps them up to date."""

__version__ = "0.1.0"
