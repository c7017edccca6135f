"""Grids of runs: grid files, the runner and its pools (in process, loky, dask), the results
folder and every file in it, and finding a saved model to sample."""
