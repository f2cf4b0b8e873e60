"""Exact and near-duplicate removal, global across shards."""
