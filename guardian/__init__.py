"""guardian: keeps a database's data correct and recoverable."""

__version__ = "0.1.0"
