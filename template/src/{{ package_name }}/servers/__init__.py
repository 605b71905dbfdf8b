"""One module per protocol the service speaks; each mounts every domain's adapter."""
