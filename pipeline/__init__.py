"""codesieve orchestration: config, I/O, plan, executors, tiers, manifest, CLI."""

__version__ = "0.1.0"
