"""Tests of the archive: batch conversion, validation and domain checks, and the catalog."""
