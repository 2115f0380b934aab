"""What the tests share, and nothing else: test modules import from here, never from one another.

- ``warehouse``: the ``Warehouse`` class (dbt against a throwaway DuckDB file or Postgres database),
  the one throwaway-Postgres helper, landing raw rows, copying a DuckDB warehouse.
- ``projects``: the one copy of the dbt project a test may edit.
- ``scenario``: the contract scenario's seeds, events and builds.
- ``shared``: building something expensive once per run, across pytest-xdist workers.
- ``reference_rating``: an independent plain-Python rating to check the SQL against.

Fixtures live in ``tests/conftest.py``.
"""
