"""Route modules of the REST API (``/api/v1``), one per kind of thing; ``server/api.py`` mounts them."""
