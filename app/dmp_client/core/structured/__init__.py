"""Structured (level 3) CI-SIS CDA documents built from an EHR hand-off (issue 19).

- :mod:`.model`: the typed inputs (dataclasses) and the code systems they use;
- :mod:`.handoff`: the hand-off JSON format (docs/structured-documents.md) parsed into the model,
  refused with :class:`~app.dmp_client.core.errors.StructuredHandoffInvalid` (French messages);
- :mod:`.build`: the VSM 2023.01 and VAC-NOTE 2023.01 documents (lxml elements, never strings);
- :mod:`.xds`: their XDS DocumentEntry, through the level-1 mapping (core/metadata.py).
"""

from __future__ import annotations

from app.dmp_client.core.structured.build import (
    VAC_NOTE,
    VSM,
    Volet,
    build_vaccination_note,
    build_vsm,
    structured_header,
    write_structured,
)
from app.dmp_client.core.structured.handoff import parse_summary, parse_vaccinations
from app.dmp_client.core.structured.model import (
    Allergy,
    Code,
    Condition,
    HandoffPatient,
    Result,
    SummaryHandoff,
    Treatment,
    Vaccination,
    VaccinationHandoff,
)
from app.dmp_client.core.structured.xds import entry_for_structured

__all__ = [
    "VAC_NOTE",
    "VSM",
    "Allergy",
    "Code",
    "Condition",
    "HandoffPatient",
    "Result",
    "SummaryHandoff",
    "Treatment",
    "Vaccination",
    "VaccinationHandoff",
    "Volet",
    "build_vaccination_note",
    "build_vsm",
    "entry_for_structured",
    "parse_summary",
    "parse_vaccinations",
    "structured_header",
    "write_structured",
]
