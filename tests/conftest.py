"""Fixtures come from the ``tessera.testing`` pytest plugin (installed with
Tessera), exactly as a partner's plugin tests get them."""
