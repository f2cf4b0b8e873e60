"""The small core every other package builds on: types, params validation, registry,
atomic writes. It imports nothing from `codesieve.filters`, `codesieve.scorers` or
`codesieve.pipeline`."""
