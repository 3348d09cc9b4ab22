"""The ndx-drug-stress extension as nwb-ketamine uses it: drug administrations and stress protocols.

The extension is its own package, ``ndx-drug-stress`` (the ``ndx-drug-stress/`` folder of this repository,
importable as :mod:`ndx_drug_stress`), so that other labs install it without nwb-ketamine. This module
re-exports its public names so that nwb-ketamine's code imports them from one place. The spec is generated
by ``ndx-drug-stress/src/spec/create_extension_spec.py`` and shipped inside that package.
"""

from ndx_drug_stress import (
    NAMESPACE,
    NAMESPACE_PATH,
    DrugAdministration,
    DrugStressMetadata,
    DrugStressValueError,
    DrugStressWarning,
    StressProtocol,
    describe_administration,
    describe_stress,
    mirror_into_core_fields,
    register_term,
)
from ndx_drug_stress.vocabulary import unknown_term_message

__all__ = [
    "NAMESPACE",
    "NAMESPACE_PATH",
    "DrugAdministration",
    "DrugStressMetadata",
    "DrugStressValueError",
    "DrugStressWarning",
    "StressProtocol",
    "describe_administration",
    "describe_stress",
    "mirror_into_core_fields",
    "register_term",
    "unknown_term_message",
]
