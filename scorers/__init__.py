"""Quality scorers (small models) and the `quality` gate that combines them.

Each scorer module registers with `@register_scorer(name)`.
"""

from codesieve.scorers import gate  # noqa: F401
