"""Regulatory frameworks a model document is cross-referenced to, kept as data (one YAML file per framework).

Banks keep structuring model documents the SR 11-7 way, while the guidance in force and the other supervisors'
expectations differ (SR 26-2 in the US since April 2026, the EU AI Act's Annex IV, the PRA's SS1/23). A
framework file maps each section of the document to that framework's elements, so a committee member sees
where each expectation is answered. Adding a framework is adding a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

#: the document's sections, in order, as framework files name them
DOCUMENT_SECTIONS: tuple[str, ...] = (
    "summary",
    "purpose",
    "data",
    "methodology",
    "performance",
    "outcomes",
    "fairness",
    "explainability",
    "monitoring",
    "findings",
    "approvals",
    "reproducibility",
)

#: the frameworks a document is mapped to unless the spec names others
DEFAULT_FRAMEWORKS: tuple[str, ...] = ("sr11-7", "sr26-2")


@dataclass(frozen=True)
class Framework:
    """One framework: what it is, whether it is in force, and its elements per document section."""

    name: str
    short: str
    title: str
    issuer: str
    issued: str
    status: str
    sections: dict[str, list[str]]


def framework_names() -> list[str]:
    """Every framework shipped (the YAML files' names)."""
    folder = resources.files("workbench.policy") / "frameworks"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


@cache
def load_framework(name: str) -> Framework:
    """A shipped framework by name; KeyError naming the known ones for any other."""
    if name not in framework_names():
        raise KeyError(f"no framework {name!r}; known: {', '.join(framework_names())}")
    text = (resources.files("workbench.policy") / "frameworks" / f"{name}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    unknown = set(data["sections"]) - set(DOCUMENT_SECTIONS)
    if unknown:
        raise ValueError(f"framework {name}: sections {sorted(unknown)} are not sections of the document")
    return Framework(
        name=data["name"],
        short=data["short"],
        title=data["title"],
        issuer=data["issuer"],
        issued=str(data["issued"]),
        status=" ".join(str(data["status"]).split()),
        sections={k: list(v) for k, v in data["sections"].items()},
    )
