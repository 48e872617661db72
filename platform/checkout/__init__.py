"""Checkout: reserving points and coupons for an order (holds), and settling
them with the order in its own transaction."""
