"""The Great Expectations half of the data-quality gate, without Dagster.

- ``suites``: what each check asserts, as plain data (a SQL relation and its expectations);
- ``config`` (and ``config.yaml``): which checks block publication, and their parameters;
- ``runner``: runs the suites on DuckDB (pandas) or Postgres (SQL) and writes the GX data docs.

Nothing here imports ``great_expectations`` at module level (it takes seconds): only
``runner.run_quality_suites`` does, when it runs.
"""
