"""Timers for the timer tests: every two seconds (no schedule status), hourly (with status), at startup."""

import json
import os
import time

import azure.functions as func

app = func.FunctionApp()


@app.timer_trigger(schedule="%TICK_SCHEDULE%", arg_name="timer")
@app.queue_output(arg_name="ticks", queue_name="%TICK_QUEUE%", connection="AzureWebJobsStorage")
def every_two_seconds(timer: func.TimerRequest, ticks: func.Out[str]) -> None:
    ticks.set(json.dumps({"tick": time.time(), "pid": os.getpid(), "past_due": timer.past_due}))


@app.timer_trigger(schedule="0 0 * * * *", arg_name="timer")
@app.queue_output(arg_name="runs", queue_name="%HOURLY_QUEUE%", connection="AzureWebJobsStorage")
def hourly(timer: func.TimerRequest, runs: func.Out[str]) -> None:
    status = timer.schedule_status
    runs.set(json.dumps({"past_due": timer.past_due, "last": status.get("Last"), "next": status.get("Next")}))


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True, use_monitor=False)
@app.queue_output(arg_name="runs", queue_name="%STARTUP_QUEUE%", connection="AzureWebJobsStorage")
def at_startup(timer: func.TimerRequest, runs: func.Out[str]) -> None:
    runs.set(json.dumps({"pid": os.getpid(), "past_due": timer.past_due, "status": timer.schedule_status}))


@app.timer_trigger(schedule="%BROKEN_SCHEDULE%", arg_name="timer")
def broken(timer: func.TimerRequest) -> None:
    raise AssertionError("a timer with an invalid schedule is never run")
