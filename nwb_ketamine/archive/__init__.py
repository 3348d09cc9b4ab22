"""The archive: batch conversion into the DANDI layout, validation and the catalog tables."""
