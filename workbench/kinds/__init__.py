"""Model kinds as data: credit, fraud and propensity, each one module, looked up by the spec's ``kind``.

A kind declares what differs between lines of business, and nothing else: the name of its decision policy
(the rule itself lives in ``workbench.decision``, registered under that name), the validation tests that judge
it (id patterns of the one test registry; the others skip themselves with the kind's or the test's reason),
its headline figures for page 1, its document sections (partial templates under
``workbench/reports/templates/kinds/<kind>/``, included by name), its monitoring metrics (names the monitoring
package implements), the spec keys only it accepts and its own checks of a spec, its validation benchmark, and
its assumptions and limitations in words.

Why names rather than objects: the spec checks its keys against the kind, and the spec sits near the bottom of
the import layers, so this package must import nothing of the workbench. Each higher layer looks up its own
implementation by the names a kind declares; a test checks that every name resolves. Adding a kind is adding
one module here and its templates; nothing else branches on the kind.
"""

from workbench.kinds import _credit, _fraud, _propensity  # noqa: F401  (registration side effect)
from workbench.kinds._kind import KINDS, SECTIONS, Kind, get_kind, kind_of, register_kind, spec_key_problems

__all__ = ["KINDS", "SECTIONS", "Kind", "get_kind", "kind_of", "register_kind", "spec_key_problems"]
