import json

import azure.functions as func


def main(timer: func.TimerRequest, ticks: func.Out[str]) -> None:
    ticks.set(json.dumps({"past_due": timer.past_due}))
