"""nwb-ketamine: an NWB archive and explorer for region-specific ketamine action.

The package is a library first; the ``nwb-ketamine`` command is a thin layer over it. Modules:
``extension`` (the ndx-drug-stress types), ``metadata`` (the study file), ``vocabulary`` (controlled
terms), ``converters`` (one module per source format), ``explorer`` (the Panel app).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nwb-ketamine")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
