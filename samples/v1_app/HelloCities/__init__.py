"""Function chaining: greet three cities in turn, count the greetings in an entity, save the result."""

import azure.durable_functions as df


def orchestrator_function(context: df.DurableOrchestrationContext):
    cities = context.get_input() or ["Tokyo", "Seattle", "London"]
    greetings = []
    for city in cities:
        greetings.append((yield context.call_activity("SayHello", city)))
    context.signal_entity(df.EntityId("Counter", "greetings"), "add", len(greetings))
    yield context.call_activity("SaveGreeting", {"id": context.instance_id, "greetings": greetings})
    return greetings


main = df.Orchestrator.create(orchestrator_function)
