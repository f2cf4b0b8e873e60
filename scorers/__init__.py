"""Quality scorers (small models). Each module registers with `@register_scorer(name)`."""
