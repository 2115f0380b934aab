"""The plain Python side of the billing project: no Dagster here.

- ``warehouse``: connections to DuckDB or Postgres from the environment, and the raw landing table;
- ``loader``: ``python -m warehouse_billing.loader`` lands JSON Lines, CSV or Parquet in raw.usage_events;
- ``demo_data``: the demo company's reference seeds and deterministic usage events;
- ``demo``: ``python -m warehouse_billing.demo``, the one-command demo (it hands the job run to
  ``orchestration``);
- ``quality``: the Great Expectations suites of the data-quality gate, their configuration and the
  code that runs them (``orchestration.quality_checks`` reports them as Dagster asset checks).
"""

from pathlib import Path

# The checkout: the dbt project, its seeds, and the local warehouse/ folder the demo writes to.
REPO_ROOT = Path(__file__).resolve().parent.parent
