"""What pyuniproc takes from Python 3.11, for Python 3.10.

Savant 0.5's module image (DeepStream 7.0, Ubuntu 22.04) runs Python 3.10, and both our images are built
on it: the module imports the core, fusion the runtime. So pyuniproc keeps to Python 3.10 (ruff's
target for pyuniproc/ and module/ is py310; tests/deploy/test_module_imports.py runs the code under a
real 3.10 when one is installed).
"""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    """`enum.StrEnum` (Python 3.11): members are strings, and print and format as their value."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, format_spec: str) -> str:
        return format(str(self.value), format_spec)


__all__ = ["StrEnum"]
