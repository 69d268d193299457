"""What the indicators count on: shared by the from-scratch computation and the roll-up."""
from __future__ import annotations

GROUPS = ("department", "grid", "worker", "category")
DISPATCH_VERBS = ("dispatch", "redispatch")
PUBLIC = "grid_worker"  # a case is a public report when its channel is anything but this
CLOCK_STAGES = ("verify", "dispatch", "check", "handle")  # the clocks measured as due / done / on time

# The verbs that complete a clocked stage, and the state they leave. A clock that ends for
# any other reason (void, merge, return accepted, re-dispatch) is "withdrawn" and is not due.
COMPLETES: dict[str, tuple[tuple[str, ...], str]] = {
    "verify": (("verify",), "verifying"),
    "open": (("open",), "accepted"),
    "dispatch": (("dispatch", "refer_enforcement"), "opened"),
    "check": (("check",), "checking"),
    "handle": (("report_back", "refer_enforcement"), "handling"),
}
