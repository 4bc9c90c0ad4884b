"""Fan-out/fan-in: run activities in parallel and aggregate their results.

Start it with the number of work items as input:
    curl -X POST http://localhost:7071/api/orchestrators/fan_out_fan_in \
        -H 'Content-Type: application/json' -d '10'
"""

import azure.durable_functions as df

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def fan_out_fan_in(context: df.DurableOrchestrationContext):
    count = context.get_input() or 5
    work = yield context.call_activity("list_work_items", count)
    squares = yield context.task_all([context.call_activity("square", item) for item in work])
    context.set_custom_status({"items": len(squares)})
    return {"count": len(squares), "sum_of_squares": sum(squares)}


@bp.activity_trigger(input_name="count")
def list_work_items(count: int) -> list:
    return list(range(1, int(count) + 1))


@bp.activity_trigger(input_name="item")
async def square(item: int) -> int:
    return item * item
