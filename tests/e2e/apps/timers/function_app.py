"""Timers for the timer tests: one every two seconds (no schedule status), one a minute (with status)."""

import json
import os
import time

import azure.functions as func

app = func.FunctionApp()


@app.timer_trigger(schedule="%TICK_SCHEDULE%", arg_name="timer")
@app.queue_output(arg_name="ticks", queue_name="%TICK_QUEUE%", connection="AzureWebJobsStorage")
def every_two_seconds(timer: func.TimerRequest, ticks: func.Out[str]) -> None:
    ticks.set(json.dumps({"tick": round(time.time()), "pid": os.getpid(), "past_due": timer.past_due}))


@app.timer_trigger(schedule="0 0 * * * *", arg_name="timer", run_on_startup=False)
@app.queue_output(arg_name="runs", queue_name="%HOURLY_QUEUE%", connection="AzureWebJobsStorage")
def hourly(timer: func.TimerRequest, runs: func.Out[str]) -> None:
    runs.set(json.dumps({"past_due": timer.past_due, "last": timer.schedule_status.get("Last")}))
