"""A member's rights over their personal data: export, erasure that keeps the
books, legal holds and retention (docs/privacy.md)."""
