"""Shared infrastructure and cross-service contracts."""
