"""Interactive controls for JupyterLab: pick a version, move the cut-off, watch the consequences.

Run by Papermill the notebooks show the same numbers as static tables instead (``static_cutoff_table``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.validation._context import ValidationContext
from workbench.validation._decision_tests import decision_summary


def fairness_ratios(ctx: ValidationContext, cutoff: float) -> dict[str, float]:
    """Approval-rate ratio of the least approved group to the reference group, per protected attribute."""
    groups = ctx.groups("validation")
    approved = ~ctx.rule.with_threshold(cutoff).adverse(ctx.p_val)
    out = {}
    for attribute in ctx.spec.protected_attributes:
        rates = pd.Series(approved).groupby(groups[attribute.name].to_numpy()).mean()
        reference = rates.get(attribute.reference, np.nan)
        out[f"DI {attribute.name}"] = float(rates.drop(attribute.reference).min() / reference) if reference else np.nan
    return out


def cutoff_row(ctx: ValidationContext, cutoff: float) -> dict[str, float]:
    """Approval rate, adverse rate among approved, expected cost and fairness ratios at one cut-off."""
    costs = ctx.spec.decision.costs
    rule = ctx.rule.with_threshold(cutoff)
    return decision_summary(ctx.y_val, ctx.p_val, rule, costs.approve_adverse, costs.decline_good) | fairness_ratios(
        ctx, cutoff
    )


def static_cutoff_table(ctx: ValidationContext, cutoffs: tuple[float, ...] = ()) -> pd.DataFrame:
    """The interactive explorer's numbers at a few cut-offs around the spec's, for headless runs."""
    spec_cutoff = ctx.spec.decision.cutoff
    values = cutoffs or tuple(
        sorted(
            {
                round(c, 2)
                for c in np.clip(
                    [
                        spec_cutoff - 0.15,
                        spec_cutoff - 0.10,
                        spec_cutoff - 0.05,
                        spec_cutoff,
                        spec_cutoff + 0.05,
                        spec_cutoff + 0.10,
                    ],
                    0.01,
                    0.99,
                )
            }
        )
    )
    return pd.DataFrame([cutoff_row(ctx, c) for c in values])


def cutoff_explorer(ctx: ValidationContext):
    """A slider over the cut-off with a live table of approval, adverse rate, cost and fairness ratios."""
    import ipywidgets as widgets
    from IPython.display import display

    slider = widgets.FloatSlider(
        value=ctx.spec.decision.cutoff,
        min=0.01,
        max=0.99,
        step=0.01,
        description="cut-off",
        continuous_update=False,
        readout_format=".2f",
    )
    output = widgets.Output()

    def refresh(change=None) -> None:
        with output:
            output.clear_output(wait=True)
            row = cutoff_row(ctx, slider.value)
            display(pd.DataFrame([row]).round(4).T.rename(columns={0: f"cut-off {slider.value:.2f}"}))

    slider.observe(refresh, names="value")
    refresh()
    return widgets.VBox([slider, output])


def version_picker(client, name: str, on_pick):
    """A dropdown of the model's registered versions; ``on_pick(version)`` runs when one is chosen."""
    import ipywidgets as widgets

    versions = sorted((int(v.version) for v in client.search_model_versions(f"name='{name}'")), reverse=True)
    dropdown = widgets.Dropdown(options=versions, description="version")
    button = widgets.Button(description="load")
    button.on_click(lambda _: on_pick(dropdown.value))
    return widgets.HBox([dropdown, button])
