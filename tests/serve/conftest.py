from pathlib import Path

import pytest

from pyuniproc.config.module import load_module_config

MODULE = Path(__file__).resolve().parents[2] / "module" / "module.yml"


@pytest.fixture(scope="session")
def module_config():
    return load_module_config(MODULE)
