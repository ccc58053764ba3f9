"""quantdb.services."""
