"""Accounts: users, browser sessions, API keys."""
