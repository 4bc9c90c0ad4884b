"""The Celery app of the peer benchmark: the same one-line activity, a broker and backend on Redis."""

from __future__ import annotations

import os

from celery import Celery

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

app = Celery("durable_ext_bench", broker=REDIS, backend=REDIS)
app.conf.update(worker_prefetch_multiplier=8, task_acks_late=True, result_expires=600)


@app.task
def hello(step: int) -> str:
    return f"Hello {step}!"


@app.task
def collect(results: list[str]) -> int:
    return len(results)
