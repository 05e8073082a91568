"""Test-only helpers (not product API): synthetic H&E-like slides with exact ground truth
(``synthetic``) and random-weights checkpoints for plumbing tests (``checkpoints``).
"""
