"""The explorer: a Panel app on an archive's catalog (store → views → app), with h5py readers of its files."""
