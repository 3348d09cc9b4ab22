"""ndx-drug-stress: drug administrations and stress protocols in NWB files.

Importing the package loads the namespace (its spec ships inside the package) and registers the Python
classes, so files read while it is imported hold :class:`DrugAdministration`, :class:`StressProtocol` and
:class:`DrugStressMetadata` objects. Routes, roles and paradigms are terms of an open vocabulary
(:mod:`ndx_drug_stress.vocabulary`; :func:`register_term` adds a lab's own).
"""

from pathlib import Path

from pynwb import load_namespaces

NAMESPACE = "ndx-drug-stress"

# The spec inside the installed package; in an editable install, the repository's spec/ folder.
NAMESPACE_PATH = Path(__file__).resolve().parent / "spec" / f"{NAMESPACE}.namespace.yaml"
if not NAMESPACE_PATH.exists():
    NAMESPACE_PATH = Path(__file__).resolve().parents[3] / "spec" / f"{NAMESPACE}.namespace.yaml"
load_namespaces(str(NAMESPACE_PATH))

from ndx_drug_stress.classes import DrugAdministration, DrugStressMetadata, StressProtocol  # noqa: E402
from ndx_drug_stress.describe import describe_administration, describe_stress, mirror_into_core_fields  # noqa: E402
from ndx_drug_stress.errors import DrugStressValueError, DrugStressWarning  # noqa: E402
from ndx_drug_stress.vocabulary import PARADIGMS, ROLES, ROUTES, Term, register_term, term, terms  # noqa: E402

__version__ = "0.2.0"
__all__ = [
    "NAMESPACE",
    "NAMESPACE_PATH",
    "PARADIGMS",
    "ROLES",
    "ROUTES",
    "DrugAdministration",
    "DrugStressMetadata",
    "DrugStressValueError",
    "DrugStressWarning",
    "StressProtocol",
    "Term",
    "describe_administration",
    "describe_stress",
    "mirror_into_core_fields",
    "register_term",
    "term",
    "terms",
]
