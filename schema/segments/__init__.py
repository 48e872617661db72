"""Segments over GraphQL: rules and previews, stored segments, rule tags, lifecycle."""
