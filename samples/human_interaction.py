"""Human interaction: wait for an approval event, racing a timeout.

Start it, then approve it through the management API before the timeout:
    curl -i -X POST http://localhost:7071/api/orchestrators/approval_workflow -d '30' \\
        -H 'Content-Type: application/json'
    curl -i -X POST '<sendEventPostUri with {eventName} replaced by Approval>' \\
        -H 'Content-Type: application/json' -d '{"approved": true, "by": "ann"}'
"""

from datetime import timedelta

import azure.durable_functions as df

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def approval_workflow(context: df.DurableOrchestrationContext):
    timeout_s = context.get_input() or 30
    timer = context.create_timer(context.current_utc_datetime + timedelta(seconds=timeout_s))
    approval = context.wait_for_external_event("Approval")
    context.set_custom_status("waiting for approval")
    winner = yield context.task_any([approval, timer])
    if winner == approval:
        timer.cancel()
        decision = approval.result
        outcome = yield context.call_activity("record_decision", decision)
        return outcome
    return "escalated: no decision in time"


@bp.activity_trigger(input_name="decision")
def record_decision(decision: dict) -> str:
    who = decision.get("by", "someone") if isinstance(decision, dict) else "someone"
    verdict = "approved" if isinstance(decision, dict) and decision.get("approved") else "rejected"
    return f"{verdict} by {who}"
