"""(c0s): what the freshness sensor (orchestration.freshness_sensor) costs per tick when nothing is new.

Run by bench.run against a built warehouse (BILLING_TARGET and its connection settings in the
environment): a first tick records what the warehouse holds (and a refresh run as if it had been
launched, as_of now); the second tick, timed, finds nothing new and starts nothing. The Dagster daemon
evaluates a sensor in a long-lived process, so the imports are timed apart from the tick. Prints JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

started = time.perf_counter()
from dagster import (  # noqa: E402
    DagsterInstance, DagsterRun, DagsterRunStatus, RunRequest, SkipReason, build_sensor_context, define_asset_job,
)

from orchestration.freshness_sensor import build_freshness_sensor  # noqa: E402
from orchestration.jobs import REFRESH_JOB  # noqa: E402

imported_s = time.perf_counter() - started


def main(project_dir: str) -> int:
    sensor = build_freshness_sensor(define_asset_job(REFRESH_JOB), Path(project_dir))
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance)
        first = sensor(context)
        if not isinstance(first, RunRequest):
            print(json.dumps({"error": f"the first tick requested no run: {first}"}))
            return 1
        # the run it asked for, finished (one in progress would make the tick wait for it)
        instance.add_run(DagsterRun(job_name=REFRESH_JOB, tags=dict(first.tags), status=DagsterRunStatus.SUCCESS))
        tick_started = time.perf_counter()
        second = sensor(build_sensor_context(instance=instance, cursor=context.cursor))
        tick_s = time.perf_counter() - tick_started
    skipped = isinstance(second, SkipReason)
    print(json.dumps({
        "import_s": round(imported_s, 3), "tick_s": round(tick_s, 4), "skipped": skipped,
        "message": second.skip_message if skipped else str(second.tags),
    }))
    return 0 if skipped else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
