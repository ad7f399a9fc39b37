"""Where governance reads and writes a version's state: the MLflow registry, or memory for fast tests.

The service only needs tags, aliases and the artefact's hash, so it talks to this small protocol; the MLflow
implementation is the system of record, the in-memory one lets property tests run thousands of sequences.
"""

from __future__ import annotations

from typing import Protocol

from mlflow import MlflowClient

from workbench.governance._audit import ANCHOR_TAG
from workbench.governance._description import version_description
from workbench.registry import get_version, model_sha256


def parse_anchor(value: str | None) -> tuple[int, str] | None:
    """ "<seq>:<hash>" as (seq, hash); None when absent or unreadable (verify then has nothing to check)."""
    if not value or ":" not in value:
        return None
    seq, _, digest = value.partition(":")
    return (int(seq), digest) if seq.isdigit() else None


class VersionStore(Protocol):
    """The registry operations governance needs."""

    def tags(self, name: str, version: int) -> dict[str, str]:
        """Tags of a version (raises LookupError for an unknown version)."""

    def set_tags(self, name: str, version: int, tags: dict[str, str]) -> None:
        """Set tags on a version."""

    def alias_holder(self, name: str, alias: str) -> int | None:
        """The version holding an alias, if any."""

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point an alias at a version."""

    def remove_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""

    def artefact_sha256(self, name: str, version: int) -> str:
        """sha256 of the version's artefact as the registry serves it now."""

    def versions(self, name: str | None = None) -> list[tuple[str, int]]:
        """(model, version) pairs, all models when ``name`` is None."""

    def anchor(self, name: str) -> tuple[int, str] | None:
        """(seq, hash) of the model's latest audit record as the registry holds it, if any."""

    def set_anchor(self, name: str, seq: int, digest: str) -> None:
        """Record (seq, hash) of the model's latest audit record on the registered model."""

    def anchors(self) -> dict[str, tuple[int, str]]:
        """Every model's anchor."""


class MlflowVersionStore:
    """The MLflow registry as the version store."""

    def __init__(self, client: MlflowClient) -> None:
        self.client = client

    def tags(self, name: str, version: int) -> dict[str, str]:
        """Tags of a version."""
        return dict(get_version(self.client, name, version).tags)

    def set_tags(self, name: str, version: int, tags: dict[str, str]) -> None:
        """Set tags on a version, then its description (the key facts, for MLflow's version page)."""
        for key, value in tags.items():
            self.client.set_model_version_tag(name, str(version), key, str(value))
        self._describe(name, version)

    def _describe(self, name: str, version: int) -> None:
        """Rewrite the version's description from its tags and aliases as they now stand."""
        record = get_version(self.client, name, version)
        description = version_description(name, int(version), record.tags, list(record.aliases))
        self.client.update_model_version(name, str(version), description=description)

    def alias_holder(self, name: str, alias: str) -> int | None:
        """The version holding an alias, if any."""
        try:
            return int(self.client.get_model_version_by_alias(name, alias).version)
        except Exception:  # MLflow raises when the alias is not set
            return None

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point an alias at a version."""
        before = self.alias_holder(name, alias)
        self.client.set_registered_model_alias(name, alias, str(version))
        for holder in {before, version} - {None}:
            self._describe(name, holder)

    def remove_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""
        before = self.alias_holder(name, alias)
        self.client.delete_registered_model_alias(name, alias)
        if before is not None:
            self._describe(name, before)

    def artefact_sha256(self, name: str, version: int) -> str:
        """sha256 of the version's artefact as the registry serves it now (LookupError if it cannot be read)."""
        try:
            return model_sha256(name, version)
        except Exception as error:  # MLflow's download errors: a deleted or unreadable artefact
            raise LookupError(
                f"{name}/{version}: its artefact cannot be read from the registry ({error}); restore the artefact "
                "from its backup or archive the version"
            ) from None

    def versions(self, name: str | None = None) -> list[tuple[str, int]]:
        """(model, version) pairs."""
        query = f"name='{name}'" if name else ""
        return sorted((v.name, int(v.version)) for v in self.client.search_model_versions(query))

    def anchor(self, name: str) -> tuple[int, str] | None:
        """(seq, hash) of the model's latest audit record, from a tag on the registered model."""
        try:
            value = self.client.get_registered_model(name).tags.get(ANCHOR_TAG)
        except Exception:  # MLflow raises for an unknown model
            return None
        return parse_anchor(value)

    def set_anchor(self, name: str, seq: int, digest: str) -> None:
        """Tag the registered model with "<seq>:<hash>" of its latest audit record."""
        self.client.set_registered_model_tag(name, ANCHOR_TAG, f"{seq}:{digest}")

    def anchors(self) -> dict[str, tuple[int, str]]:
        """Every registered model's anchor."""
        found = {}
        for model in self.client.search_registered_models():
            parsed = parse_anchor(model.tags.get(ANCHOR_TAG))
            if parsed is not None:
                found[model.name] = parsed
        return found


class InMemoryVersionStore:
    """A version store in memory, for tests of the rules."""

    def __init__(self) -> None:
        self._tags: dict[tuple[str, int], dict[str, str]] = {}
        self._aliases: dict[tuple[str, str], int] = {}
        self._sha: dict[tuple[str, int], str] = {}
        self._anchors: dict[str, tuple[int, str]] = {}

    def add(self, name: str, version: int, tags: dict[str, str], sha256: str = "a" * 64) -> None:
        """Register a version."""
        self._tags[(name, version)] = dict(tags)
        self._sha[(name, version)] = sha256

    def tamper(self, name: str, version: int, sha256: str) -> None:
        """Swap the artefact behind a version (to test that deployment notices)."""
        self._sha[(name, version)] = sha256

    def tags(self, name: str, version: int) -> dict[str, str]:
        """Tags of a version."""
        if (name, version) not in self._tags:
            raise LookupError(f"model {name!r} has no version {version}")
        return dict(self._tags[(name, version)])

    def set_tags(self, name: str, version: int, tags: dict[str, str]) -> None:
        """Set tags on a version."""
        self._tags[(name, version)].update(tags)

    def alias_holder(self, name: str, alias: str) -> int | None:
        """The version holding an alias, if any."""
        return self._aliases.get((name, alias))

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point an alias at a version."""
        self._aliases[(name, alias)] = version

    def remove_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""
        self._aliases.pop((name, alias), None)

    def artefact_sha256(self, name: str, version: int) -> str:
        """sha256 of the version's artefact."""
        return self._sha[(name, version)]

    def versions(self, name: str | None = None) -> list[tuple[str, int]]:
        """(model, version) pairs."""
        return sorted(k for k in self._tags if name is None or k[0] == name)

    def anchor(self, name: str) -> tuple[int, str] | None:
        """(seq, hash) of the model's latest audit record."""
        return self._anchors.get(name)

    def set_anchor(self, name: str, seq: int, digest: str) -> None:
        """Record the model's latest audit record."""
        self._anchors[name] = (seq, digest)

    def anchors(self) -> dict[str, tuple[int, str]]:
        """Every model's anchor."""
        return dict(self._anchors)
