"""Registered models and their access tokens."""
