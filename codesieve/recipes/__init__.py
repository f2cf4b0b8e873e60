"""Training-data recipes: corpora built from pinned public packages at training time only.

- `pinlist`: the pinned list format (`source<TAB>name<TAB>version<TAB>popularity`), the
  RESERVED refusal and the split by package;
- `fetch`: downloads into a cache (PyPI sdists, npm tarballs, Debian source and binary packages);
- `extract`: every file of a downloaded package, as a raw crawl keeps it;
- `registry_corpus`: the CLI that writes zstd Parquet shards plus `manifest.json`;
- `lists/`: the pinned lists shipped with the repo (`langid.tsv`, `quality.tsv`).

This layer imports only `codesieve.core`; the file labeller is passed in by name.
"""
