"""quantdb.kernels."""
