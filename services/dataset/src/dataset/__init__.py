"""Trainyard dataset service."""
