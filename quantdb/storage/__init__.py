"""quantdb.storage."""
