"""Documents for the model risk committee: the SR 11-7 model document and the fairness report."""

from workbench.reports._build import DocumentSet, build_documents, export_notebooks, fairness_context, sr117_context
from workbench.reports._evidence import Evidence, NotValidatedError, collect_evidence
from workbench.reports._render import html_table, notebook_html, render_html, write_pdf

__all__ = [
    "DocumentSet",
    "Evidence",
    "NotValidatedError",
    "build_documents",
    "collect_evidence",
    "export_notebooks",
    "fairness_context",
    "html_table",
    "notebook_html",
    "render_html",
    "sr117_context",
    "write_pdf",
]
