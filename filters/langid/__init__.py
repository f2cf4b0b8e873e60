"""Language identification, the first gate of the hierarchy.

- `paths`: programming language from file name, extension and shebang (table lookups), and
  the names that mark test expectations / logs / data (`.ok`, `.expected`, `.symbols`...);
- `heuristics`: content rules that settle ambiguous extensions (`.h`, `.m`, `.pl`, `.ts`, `.v`);
- `content`: the shipped fastText content model (`lang_content.ftz`, calibrated thresholds in
  `lang_content.json`) for files without a usable path and to catch mislabelled files;
- `evidence`: content-only corrections of the model (shebangs, zsh `#compdef`, Tcl tests,
  modelines, TypeScript / Perl / C++ / Markdown... constructs);
- `binary`: the binary-content test over raw bytes;
- `natural`: natural language of comments and prose (lingua, offline);
- `data` + `train`: the recipe that builds `lang_content.ftz`
  (`python -m codesieve.filters.langid.train --corpus DIR`).

The gate itself (`language`) lives in `filters/language.py`.
"""
