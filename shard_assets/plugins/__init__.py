"""Thin adapters between the generators and the core.

Each adapter turns its generator's configuration into shard-assets settings, calls
:func:`shard_assets.build.pipeline.shard_site`, and maps errors to the generator's own way
of failing. They are imported only when their generator is installed.
"""
