"""Bounds on what one request may ask: document shape, static cost, per-principal budgets.

Pure analysis lives here; the schema extensions that apply it to each operation
are in ``gateway.extensions``.
"""
