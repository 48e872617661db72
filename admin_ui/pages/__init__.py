"""The admin pages, each module registering its own with ``registry.page``."""
