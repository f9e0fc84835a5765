"""Where the default module lives: module/module.yml, its converters, pyfuncs, tracker config and models.

There is one copy of these files, `module/` at the top of the repository, and three ways to run it:

- a source checkout or an editable install (`pip install -e .`, `make`): `module/` next to the
  `pyuniproc/` package folder;
- Savant's image (docker/Dockerfile.module): the same layout under /opt/savant (`pyuniproc/`,
  `module/`), with the models copied to MODEL_PATH;
- an installed wheel (`pip install .`): setup.py copies `module/` into the wheel as
  `pyuniproc/_module/module/`. That folder holds nothing else, so the pyfunc paths in module.yml
  (`module.pyfuncs.analytics`, `module.converters.detector`) import from it as they do from a
  checkout (`pyuniproc.runtime.pyfunc_host.load_pyfunc` looks for them in the folder above `module/`).

Nothing here depends on the current directory: `pyuniproc run` finds the module from any folder.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_PROJECT = PACKAGE_DIR / "_module"
"""The project folder a wheel carries: `module/` only (written by setup.py, never in git)."""
SOURCE_PROJECT = PACKAGE_DIR.parent
"""The folder above the package: the repository in a checkout, /opt/savant in Savant's image."""
MODULE_FILE = "module.yml"


def module_dir() -> Path:
    """The default module's folder: the wheel's copy when installed, else the checkout's `module/`.

    Never raises: when neither holds a module.yml it returns the checkout's path, so that the error
    of whoever opens a file there names a plausible place."""
    for project in (BUNDLED_PROJECT, SOURCE_PROJECT):
        candidate = project / "module"
        if (candidate / MODULE_FILE).is_file():
            return candidate
    return SOURCE_PROJECT / "module"


def default_module_file() -> Path:
    """The default module YAML (what `pyuniproc run` uses without --module)."""
    return module_dir() / MODULE_FILE


def models_dir() -> Path:
    """The default module's model files, one folder per element name (person_detector/, person_reid/)."""
    return module_dir() / "models"


__all__ = ["default_module_file", "models_dir", "module_dir"]
