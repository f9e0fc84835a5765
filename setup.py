"""Build hook: the wheel carries the default module (module/) as pyuniproc/_module/module/.

Everything else is in pyproject.toml. The module's files stay where Savant and the repository keep
them (module/ at the top); only the wheel gets a copy, so `pip install .` gives a `pyuniproc run`
that works from any folder (pyuniproc/module_files.py finds either copy). An editable install
(`pip install -e .`) copies nothing: it uses module/ in the checkout.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
MODULE = ROOT / "module"
BUNDLED = Path("pyuniproc", "_module", "module")
LEFT_OUT = {
    # The ImageNet ReID model: the base the person-adapted default was fitted from (scripts/adapt_reid.py,
    # benchmarks/reid), which module.yml no longer names (9 MB; the adapted file holds the whole network).
    "models/person_reid/mobilenetv2_imagenet.onnx",
}


def module_files(root: Path = MODULE) -> list[str]:
    """The files of `root` the wheel carries, as sorted POSIX paths relative to it: every file but
    bytecode caches and LEFT_OUT."""
    files = []
    for path in root.rglob("*"):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc" \
                and relative not in LEFT_OUT:
            files.append(relative)
    return sorted(files)


class BuildPyWithModule(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False) or not MODULE.is_dir():
            return
        target = Path(self.build_lib) / BUNDLED
        shutil.rmtree(target, ignore_errors=True)  # a previous build's copy may hold files since removed
        for relative in module_files():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(MODULE / relative, destination)


if __name__ == "__main__":
    setup(cmdclass={"build_py": BuildPyWithModule})
