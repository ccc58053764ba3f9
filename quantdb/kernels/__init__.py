"""quantdb.kernels: pure NumPy / numba compute, no I/O.

Importing the package sets ``OMP_WAIT_POLICY=PASSIVE`` unless the environment already sets it.
numba's parallel kernels (`quantdb.kernels.summary`) run on its OpenMP threading layer, whose
threads by default keep spinning on a core after each parallel region. quantdb calls such
kernels many times in a row on small inputs (a sweep's best sets, the demo's backtests) while
its own threads and helper processes want that core; measured on the issue 15 sweep command
(2 cores): 1.58-1.67 s passive against 1.69-1.80 s spinning, and less CPU. OpenMP reads the
variable when its library loads, i.e. at numba's first parallel launch, which comes after
this import; a process that launched OpenMP threads before keeps its policy. No result
depends on it.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
