"""Credentials: brand API keys, member tokens, admin users."""
