"""Durable entity fed by an orchestration: word counts aggregated from parallel activities.

The orchestration splits its input text into lines, counts the words of each line in an activity, adds
every count to an ``aggregator`` entity with a signal and finally calls the entity for the totals:
    curl -X POST http://localhost:7071/api/orchestrators/count_words \
        -H 'Content-Type: application/json' -d '{"key": "docs", "text": "a b\\nb c c"}'
"""

import azure.durable_functions as df

bp = df.Blueprint()


@bp.entity_trigger(context_name="context")
def aggregator(context: df.DurableEntityContext) -> None:
    totals: dict = context.get_state(dict)
    if context.operation_name == "add":
        for word, count in context.get_input().items():
            totals[word] = totals.get(word, 0) + count
        context.set_state(totals)
    elif context.operation_name == "totals":
        context.set_result(totals)
    else:
        raise ValueError(f"aggregator has no operation '{context.operation_name}'")


@bp.orchestration_trigger(context_name="context")
def count_words(context: df.DurableOrchestrationContext):
    job = context.get_input()
    entity = df.EntityId("aggregator", job["key"])
    lines = [line for line in job["text"].splitlines() if line.strip()]
    counts = yield context.task_all([context.call_activity("count_line_words", line) for line in lines])
    for count in counts:
        context.signal_entity(entity, "add", count)
    totals = yield context.call_entity(entity, "totals")
    return totals


@bp.activity_trigger(input_name="line")
def count_line_words(line: str) -> dict:
    counts: dict = {}
    for word in line.split():
        counts[word] = counts.get(word, 0) + 1
    return counts
