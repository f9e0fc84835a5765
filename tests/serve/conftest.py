from pathlib import Path

import pytest

from pyuniproc.config.module import load_module_config

MODULE = Path(__file__).resolve().parents[2] / "module" / "module.yml"


@pytest.fixture(scope="session")
def module_config(request):
    """The repo's module; `indirect` parametrisation with a detector profile name picks that one."""
    detector = getattr(request, "param", None)
    if detector is None:
        return load_module_config(MODULE)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DETECTOR", detector)
        return load_module_config(MODULE)
