"""The gateway process: app, configuration, identity, schema assembly and CLI."""

__version__ = "0.1.0"
