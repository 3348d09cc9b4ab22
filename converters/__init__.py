"""Converters of the study's recordings into NWB files, and the readers of every format they read."""
