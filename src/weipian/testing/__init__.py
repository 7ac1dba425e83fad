"""Test data with known truth, and scoring against it.

- :mod:`~weipian.testing.scenes` — the scene generator (``python -m weipian.testing.scenes DIR``)
- :mod:`~weipian.testing.scores` — pixel and object scores against truth

Generated scenes make tests possible; they are not evidence of accuracy on
real imagery (see ``benchmarks/real.py``).
"""
