"""quantdb.datasets."""
