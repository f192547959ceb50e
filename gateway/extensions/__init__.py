"""Schema extensions: query limits and error shaping, one per module."""
