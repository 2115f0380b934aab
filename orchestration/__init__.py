"""The Dagster definitions of the warehouse billing project (entry point: ``orchestration.definitions``).

One module per kind of definition: ``resources``, ``dbt_assets``, ``partitions``, ``jobs``,
``schedules``, ``quality_checks`` (the Great Expectations asset checks), ``publication`` (the gate
and the publish step) and ``local_runs`` (a job run in this process, for the demo). The loader, the
demo, the warehouse helpers and the GX suites are plain Python in ``warehouse_billing``.
"""
