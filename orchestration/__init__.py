"""Dagster orchestration of the warehouse billing project."""
