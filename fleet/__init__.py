"""The fleet command: `python -m fleet` (see fleet/__main__.py)."""
