"""Behaviour events over GraphQL."""
