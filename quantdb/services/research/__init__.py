"""Research: backtests, sweeps, walk-forward, Monte Carlo, prediction replay and their stored results."""
