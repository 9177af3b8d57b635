"""Trainyard inference service."""
