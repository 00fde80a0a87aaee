"""Datasets: where they come from (registry), fetching and verifying their files (download),
parsing and caching them (store), in memory (dataset), generated (synthetic); the splits and
loaders of a run (prepare) and device-resident batches (loader)."""
