"""pyuniproc: multi-camera people tracking, embedded runtime for a Savant module."""

__version__ = "0.1.0"
