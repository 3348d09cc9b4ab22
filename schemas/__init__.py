"""The JSON Schemas of the metadata files, and the scripts that generate them and the docs.

The ndx-drug-stress extension spec is its own package's, in ``ndx-drug-stress/spec``.
"""
