"""Backfill orchestration: S3-pattern runs and S3 Inventory runs (batches, chunks), crash-safe and observable.

Modules: models (Postgres records), naming (identifier/settings/pattern validation), s3paths (s3() URLs),
statements (the INSERT/dry-run SQL over the shared xAPI mapping), inventory (manifest and inventory files),
chunking (deterministic chunks and dedup tokens), events (NOTIFY publish/listen), service (the API other layers
use), runner (what the worker executes), tasks (procrastinate tasks), recovery (stalled jobs), cli.
"""
