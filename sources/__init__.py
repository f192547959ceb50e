"""Adapters to the upstream systems: the only code that does I/O."""
