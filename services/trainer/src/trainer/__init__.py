"""Trainyard trainer service."""
