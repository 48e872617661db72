"""Built-in plugins. Each registers through the ``tessera`` entry-point group,
exactly as a partner's plugin does."""
