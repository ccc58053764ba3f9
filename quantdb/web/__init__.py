"""quantdb.web."""
