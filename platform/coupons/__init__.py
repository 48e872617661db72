"""Coupons: templates an operator defines, coupons issued from them to
members, and their redemption against orders (docs/coupons.md)."""
