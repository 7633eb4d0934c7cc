"""What-if (issue 18): replay edited decision tables over the decision log before deploying them.

`replay` re-evaluates each edited table with SpiffWorkflow's DMN engine (`workflows.engine.decisions`, the
code the runtime's business rule tasks run) over the inputs the log recorded, `summaries` says what the
differences mean per kind of table. Nothing here writes: callers run it in a session they roll back.
"""
