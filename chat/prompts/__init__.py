"""The prompt library: a person's own prompts and the ones a company admin shares, with ``{{variable}}``
placeholders (``variables.py``: pure text functions; ``selectors.py``: reads; ``services.py``: audited writes)."""
