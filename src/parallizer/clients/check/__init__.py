"""`parallizer check`: the plan gate for CI, pre-commit and coding agents' hooks.

`review` checks many plans at once through one runtime (the index of the scope is built once),
`formats` writes the findings (text, JSON, SARIF 2.1.0, GitHub workflow commands), `hook`
answers a coding agent's plan-approval hook."""

from .review import PlanReport, blocking, review_plans

__all__ = ["PlanReport", "blocking", "review_plans"]
