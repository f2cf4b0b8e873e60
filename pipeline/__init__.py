"""Orchestration: config, I/O, plan, executors, tiers, manifest, CLI. Never names a gate."""
