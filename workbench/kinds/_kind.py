"""What a model kind is: a frozen declaration, and the registry the rest of the workbench looks kinds up in.

A kind names things; it implements nothing that lives elsewhere. Its decision policy is a name that
``workbench.decision`` registers the rule under, its tests are id patterns of the validation registry, its
monitoring metrics are names the monitoring package registers, its document sections are templates of
``workbench/reports/templates/kinds/<kind>/``. That keeps this package at the bottom of the import layers
(the spec checks its keys against it) while each implementation stays in its one home.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

#: the document sections every kind supplies as a partial template (reports include them by name)
SECTIONS = ("headline", "policy", "outcomes", "fairness", "fairness_report")

#: a kind's own check of a spec: (spec key, problem) pairs; the spec is passed duck-typed (this layer is below it)
Requirements = Callable[[Any], list[tuple[str, str]]]


def _no_requirements(spec: Any) -> list[tuple[str, str]]:
    return []


@dataclass(frozen=True)
class Kind:
    """One model kind, as data.

    ``tests`` are fnmatch patterns of validation test ids that judge the kind; ``lists_skipped`` names kinds
    whose tests this kind's validation also lists, skipped with the reason (the credit suite is the baseline a
    reader compares with); ``skip_reasons`` maps a test id pattern or category to why it does not apply here.
    ``keys`` are the kind-specific spec keys the kind accepts (a key another kind owns is refused, naming
    both). ``favourable`` and ``subject`` are the words documents use for the favourable decision and the
    one decided on; ``favourable_rate`` names the rate the four-fifths ratios compare.
    """

    name: str
    title: str
    subject: str
    subjects: str
    decision: str
    favourable: str
    favourable_rate: str
    tests: tuple[str, ...]
    headline: tuple[str, ...]
    monitoring: tuple[str, ...]
    keys: tuple[str, ...] = ()
    lists_skipped: tuple[str, ...] = ()
    skip_reasons: Mapping[str, str] = field(default_factory=dict)
    requirements: Requirements = _no_requirements
    benchmark: tuple[str, Mapping[str, Any]] = ("scorecard_logit", {})
    feature_store: bool = False
    alternatives_skip: str | None = None
    assumptions: tuple[str, ...] = ()
    limitations: tuple[str, ...] = ()
    synthetic_note: str = ""

    def judges(self, test_id: str) -> bool:
        """Whether a validation test judges models of this kind."""
        return any(fnmatchcase(test_id, pattern) for pattern in self.tests)

    def skip_reason(self, test_id: str, category: str) -> str | None:
        """This kind's own reason a test does not apply to it (None: the test's own reason is used)."""
        for pattern, reason in self.skip_reasons.items():
            if fnmatchcase(test_id, pattern) or pattern == category:
                return reason
        return None

    def template(self, section: str) -> str:
        """The partial template of one document section (see SECTIONS)."""
        if section not in SECTIONS:
            raise KeyError(f"{section!r} is not a kind section; known: {', '.join(SECTIONS)}")
        return f"kinds/{self.name}/{section}.html.j2"


KINDS: dict[str, Kind] = {}


def register_kind(kind: Kind) -> Kind:
    """Add a kind to the registry (once)."""
    if kind.name in KINDS:
        raise ValueError(f"model kind {kind.name!r} is registered twice")
    KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> Kind:
    """The registered kind of this name, or an error listing the known ones."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"kind: {name!r} is not a model kind; known: {', '.join(sorted(KINDS))}") from None


def kind_of(spec: Any) -> Kind:
    """The kind a spec selects (``kind``; credit when the spec predates kinds)."""
    return get_kind(getattr(spec, "kind", None) or "credit")


def _value(spec: Any, key: str) -> Any:
    value = spec
    for part in key.split("."):
        value = getattr(value, part, None)
    return value


def _default(spec: Any, key: str) -> Any:
    """The schema default of a dotted key (pydantic's field default), or None."""
    *parents, last = key.split(".")
    owner = spec
    for part in parents:
        owner = getattr(owner, part, None)
    fields = getattr(type(owner), "model_fields", {})
    info = fields.get(last)
    if info is None:
        return None
    return info.get_default(call_default_factory=True)


def spec_key_problems(spec: Any) -> list[tuple[str, str]]:
    """Keys that make no sense for the spec's kind, then the kind's own requirements.

    A key is one kind's when a registered kind declares it; a spec of another kind that gives it a value
    other than its default is refused, naming the key, the kinds it belongs to and the spec's kind.
    """
    kind = kind_of(spec)
    problems = []
    owners: dict[str, list[str]] = {}
    for other in KINDS.values():
        for key in other.keys:
            owners.setdefault(key, []).append(other.name)
    for key, kinds in owners.items():
        if kind.name in kinds:
            continue
        value = _value(spec, key)
        if value is not None and value != _default(spec, key):
            problems.append((key, f"only for kind: {', '.join(kinds)} (not a key of a {kind.name} model)"))
    return problems + kind.requirements(spec)
