import azure.functions as func


def main(msg: func.QueueMessage) -> str:
    return f"relayed {msg.get_body().decode()} (dequeue count {msg.dequeue_count})"
