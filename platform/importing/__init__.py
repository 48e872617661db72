"""Bringing an old CRM's members and orders in from CSV files, row by row,
through the same services the API uses (docs/import.md)."""
