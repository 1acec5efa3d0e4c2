"""Desktop SMS: text clients from their cases and file their replies on the right case."""

__version__ = "0.1.0"
