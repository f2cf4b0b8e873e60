"""Shipped pipeline configs; `--config NAME` resolves NAME.yaml here."""
