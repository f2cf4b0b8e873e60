"""Language identification, the first gate of the hierarchy.

- `paths`: programming language from file name, extension and shebang (table lookups);
- `heuristics`: content rules that settle ambiguous extensions (`.h`, `.m`, `.pl`, `.ts`, `.v`);
- `content`: the shipped fastText content model (`lang_content.ftz`) for files without a
  usable path and to catch mislabelled files;
- `natural`: natural language of comments and prose (lingua, offline);
- `train`: the recipe that builds `lang_content.ftz` (`python -m filters.langid.train`).

The gate itself (`language`) lives in `filters/language.py`.
"""
