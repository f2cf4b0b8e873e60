"""Shipped `codesieve mix` recipes (`--recipe NAME` finds them by name)."""
