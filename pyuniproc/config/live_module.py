"""Live edits of the module YAML inside the Savant deployment.

Savant resolves module.yml once, at start, and never looks at it again. Our converter, selector and
pyfunc (module/) run in Savant's process on every frame, so they can: they share one `LiveModule` per
file and call `poll()` between frames. At most every `interval_seconds` it looks at the file (and at the
files our pyfuncs name in it, such as the cameras file); an edit is checked with pyuniproc's own
validators (`pyuniproc.config.module_spec`, the cameras-file loader through the pyfunc's `prepare`), then

- applied as a whole when it is valid: detector thresholds and the live kwargs of our pyfuncs take
  effect on the next frame (`settings.version` goes up; notice `config_reloaded`);
- rejected as a whole when it is not (notice `config_rejected` with file, line and field): the running
  settings stay, as in pyuniproc;
- values DeepStream fixed at start (model files, shapes, nvtracker config, batch size, element list)
  are never applied: each is reported once as `config_restart_needed`, naming its line, and the
  pipeline keeps running on what it started with (pyuniproc.config.live_rules sorts them).

Notices are the dicts pyuniproc's runtime writes as events (`kind`, `camera_id` None, flat details,
`at`). Each is logged once, when decided, and handed once to every consumer that asks
(`notices_since`): the analytics pyfunc puts them in the `config.events` tag of its next frame, which
reaches the metadata sinks and Kafka with the frame.

Savant's image imports this: standard library, PyYAML, and OmegaConf once a file is read (Savant's own
dependency). No threads: the caller's frame loop drives it; a lock makes converter (nvinfer's thread)
and pyfunc (its own) safe to share it.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyuniproc.config.file_watch import FileWatcher
from pyuniproc.config.live_rules import (
    CONVERTER_LIVE_KWARGS,
    MISSING,
    changed_paths,
    classify,
    flatten,
    jsonable,
)
from pyuniproc.config.module_spec import ModuleSpec, number, parse_module
from pyuniproc.config.yaml_source import ConfigError, YamlDocument, load_yaml

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 2.0
"""How often the converter and pyfunc look at the files: an edit applies within this, plus one frame."""

MAX_NOTICES = 64
"""Notices kept for consumers that have not asked yet; older ones are dropped (they were logged)."""

OFF = {"", "off", "false", "no", "none", "0"}


@dataclass(frozen=True)
class PyFuncHook:
    """How one of our pyfunc classes takes live edits of its kwargs.

    live_kwargs: the kwargs it applies between frames; an edit of any other kwarg needs a restart.
    prepare: kwargs -> the pyfunc's ready-to-apply settings; raises `ConfigError` or `ValueError` for
        a bad value, which rejects the whole edit (a ValueError whose message starts with a kwarg's name
        is reported at that kwarg's line). Runs on the frame thread, so it reads small files only.
    files: kwargs -> files those kwargs name, watched as well (an edit there re-runs `prepare`).
    section: the name notices use for it (e.g. "analytics").
    """

    live_kwargs: frozenset[str]
    prepare: Callable[[dict[str, Any]], Any]
    files: Callable[[dict[str, Any]], Iterable[str]]
    section: str


@dataclass(frozen=True)
class LiveSettings:
    """What consumers apply, as of one accepted version of the files (version 1: as started).

    thresholds: the detector's confidence_threshold, nms_iou_threshold, min_width, min_height: the first
        object's selector kwargs, overridden by the converter's kwargs (as the converter reads them).
    max_detections: the converter kwarg if the file sets it.
    pyfuncs: (module, class_name) -> what that pyfunc's hook prepared.
    """

    version: int
    thresholds: dict[str, float]
    max_detections: int | None = None
    pyfuncs: dict[tuple[str, str], Any] = field(default_factory=dict)


class LiveModule:
    """One module YAML watched in this process; see the module docstring. Build it with `shared()`.

    Raises `ConfigError` when the file does not pass the checks at start (then there is nothing to
    compare edits with)."""

    def __init__(self, path: Path | str, *, interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.interval_seconds = float(interval_seconds)
        self._clock = clock
        self._lock = threading.RLock()
        self._hooks: dict[tuple[str, str], PyFuncHook] = {}
        doc = load_yaml(self.path)
        spec = parse_module(doc)
        self._spec = spec
        self._started = flatten(spec.resolved)  # what DeepStream built the pipeline from
        self._accepted = self._started
        self._pending: dict[str, Any] = {}  # restart-only paths -> edited value, already reported
        self.settings = LiveSettings(1, *_detector_settings(doc, spec))
        self._watchers: dict[Path, FileWatcher] = {}
        self._watch([self.path])
        self._dirty: set[Path] = set()  # changed files an edit rejected: re-read with the next edit
        self._next_check = clock()
        self._notices: list[tuple[int, dict[str, Any]]] = []
        self._sequence = 0

    # -- consumers -----------------------------------------------------------------------------

    def register_pyfunc(self, module: str, class_name: str, hook: PyFuncHook, initial: Any) -> None:
        """Our pyfunc `module.class_name` takes live kwargs through `hook`; `initial` is what it prepared
        from its constructor kwargs (Savant's, from the same file at start)."""
        with self._lock:
            key = (module, class_name)
            self._hooks[key] = hook
            settings = self.settings
            self.settings = LiveSettings(settings.version, settings.thresholds, settings.max_detections,
                                         {**settings.pyfuncs, key: initial})
            kwargs = _pyfunc_kwargs(self._spec, key)
            if kwargs is not None:
                self._watch(Path(p) for p in hook.files(kwargs))

    def poll(self) -> LiveSettings:
        """The settings to use for the next frame, after looking at the files if `interval` has passed."""
        with self._lock:
            now = self._clock()
            if now >= self._next_check:
                self._next_check = now + self.interval_seconds
                changed = {path for path, watcher in self._watchers.items() if watcher.changed()}
                if changed:
                    self._evaluate(changed | self._dirty)
            return self.settings

    def notices_since(self, cursor: int) -> tuple[list[dict[str, Any]], int]:
        """Notices after `cursor` (0 at first) and the cursor to pass next time."""
        with self._lock:
            return [n for seq, n in self._notices if seq > cursor], self._sequence

    # -- one edit ------------------------------------------------------------------------------

    def _evaluate(self, changed_files: set[Path]) -> None:
        try:
            doc = load_yaml(self.path)
            spec = parse_module(doc)
            thresholds, max_detections = _detector_settings(doc, spec)
            prepared = self._prepare_pyfuncs(doc, spec, changed_files)
        except ConfigError as exc:
            self._reject(exc, changed_files)
            return
        except Exception as exc:  # noqa: BLE001 - an edit must never stop the frames; report it instead
            log.exception("%s: unexpected error while reading an edit", self.path)
            self._reject(ConfigError(self.path, f"cannot read the edit: {type(exc).__name__}: {exc}"),
                         changed_files)
            return
        leaves = flatten(spec.resolved)
        live_pyfuncs = {key: (hook.section, hook.live_kwargs) for key, hook in self._hooks.items()}
        sections: list[str] = []
        for path in changed_paths(self._accepted, leaves):
            kind, what = classify(path, spec, live_pyfuncs)
            if kind == "live" and what not in sections:
                sections.append(what)
            elif kind == "elsewhere":
                log.info("%s: %s changed: %s", doc.path, path, what)
        sections += [hook.section for key, hook in self._hooks.items() if key in prepared
                     and hook.section not in sections]
        self._report_restarts(doc, spec, leaves, live_pyfuncs)
        self._spec, self._accepted, self._dirty = spec, leaves, set()
        if not sections:
            return
        self.settings = LiveSettings(self.settings.version + 1, thresholds, max_detections,
                                     {**self.settings.pyfuncs, **prepared})
        log.info("%s: applied edit (%s), live config version %d", doc.path, ", ".join(sections),
                 self.settings.version)
        self._notify({"kind": "config_reloaded", "sections": sections, "version": self.settings.version,
                      "file": str(doc.path)})

    def _prepare_pyfuncs(self, doc: YamlDocument, spec: ModuleSpec, changed_files: set[Path]
                         ) -> dict[tuple[str, str], Any]:
        """Re-prepare the pyfuncs whose live kwargs or files changed: {(module, class_name): prepared}."""
        prepared: dict[tuple[str, str], Any] = {}
        for key, hook in self._hooks.items():
            kwargs = _pyfunc_kwargs(spec, key)
            if kwargs is None:
                continue  # the element is gone: a restart-only change, reported as such
            files = {Path(p) for p in hook.files(kwargs)}
            before = _pyfunc_kwargs(self._spec, key) or {}
            if all(kwargs.get(k) == before.get(k) for k in hook.live_kwargs) and not files & changed_files:
                continue
            where = _pyfunc_where(spec, key)
            try:
                prepared[key] = hook.prepare(kwargs)
            except ConfigError:
                raise
            except (ValueError, TypeError, OSError) as exc:  # a message that starts with a kwarg's name
                named = [k for k in sorted(hook.live_kwargs) if str(exc).startswith(k)]  # points at it
                field = f"{where}.kwargs" + (f".{named[0]}" if named else "")
                raise doc.error(field, f"{key[1]}: {exc}") from None
            self._watch(files)
        return prepared

    def _report_restarts(self, doc: YamlDocument, spec: ModuleSpec, leaves: dict[str, Any],
                         live_pyfuncs: dict[tuple[str, str], tuple[str, frozenset[str]]]) -> None:
        """One `config_restart_needed` per restart-only value that now differs from the start, unless
        that very value was reported before; a value edited back is logged as settled."""
        pending = {path: leaves.get(path) for path in changed_paths(self._started, leaves)
                   if classify(path, spec, live_pyfuncs)[0] == "restart"}
        for path, edited in pending.items():
            if path in self._pending and self._pending[path] == edited:
                continue
            running = jsonable(self._started.get(path, MISSING))
            error = doc.error(path, f"edited to {jsonable(edited) if path in leaves else '(removed)'!r}; "
                              f"{classify(path, spec, live_pyfuncs)[1]}, so the module keeps {running!r} "
                              "until it is restarted")
            self._notify({"kind": "config_restart_needed", "error": str(error), "file": error.path,
                          "line": error.line, "field": path, "running": running,
                          "edited": jsonable(edited) if path in leaves else None}, level=logging.WARNING)
        for path in set(self._pending) - set(pending):
            log.info("%s: %s is back to the value the module runs with; no restart needed for it",
                     doc.path, path)
        self._pending = pending

    def _reject(self, error: ConfigError, changed_files: set[Path]) -> None:
        self._dirty = set(changed_files)
        self._notify({"kind": "config_rejected", "error": str(error), "file": error.path, "line": error.line,
                      "field": error.field}, level=logging.ERROR,
                     suffix="; the module keeps running with its previous configuration")

    # -- plumbing ------------------------------------------------------------------------------

    def _notify(self, notice: dict[str, Any], *, level: int = logging.INFO, suffix: str = "") -> None:
        if level > logging.INFO:
            log.log(level, "%s%s", notice["error"], suffix)
        self._sequence += 1
        self._notices.append((self._sequence, {"kind": notice.pop("kind"), "camera_id": None, **notice,
                                               "at": time.time()}))
        del self._notices[:-MAX_NOTICES]

    def _watch(self, paths: Iterable[Path]) -> None:
        for path in paths:
            if path not in self._watchers:
                self._watchers[path] = FileWatcher(path, interval_seconds=0, clock=self._clock)


def _detector_settings(doc: YamlDocument, spec: ModuleSpec) -> tuple[dict[str, float], int | None]:
    """Effective detector thresholds and max_detections, converter kwargs checked as the selector's are."""
    detector = spec.detector
    thresholds = {"confidence_threshold": detector.confidence_threshold,
                  "nms_iou_threshold": detector.nms_iou_threshold,
                  "min_width": detector.min_width, "min_height": detector.min_height}
    elements = spec.resolved["pipeline"]["elements"]
    index = next(i for i, e in enumerate(elements) if e.get("element") == "nvinfer@detector")
    where = f"pipeline.elements[{index}].model.output.converter.kwargs"
    kwargs = (elements[index]["model"]["output"]["converter"] or {}).get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise doc.error(where, "must be a mapping")
    for name in CONVERTER_LIVE_KWARGS[:-1]:
        if kwargs.get(name) is not None:
            maximum = 1.0 if name.endswith("threshold") else None
            thresholds[name] = number(doc, f"{where}.{name}", kwargs[name], maximum=maximum)
    max_detections = kwargs.get("max_detections")
    if max_detections is not None:
        max_detections = int(number(doc, f"{where}.max_detections", max_detections, minimum=1))
    return thresholds, max_detections


def _pyfunc_kwargs(spec: ModuleSpec, key: tuple[str, str]) -> dict[str, Any] | None:
    for pyfunc in spec.pyfuncs:
        if (pyfunc.module, pyfunc.class_name) == key:
            return dict(pyfunc.kwargs)
    return None


def _pyfunc_where(spec: ModuleSpec, key: tuple[str, str]) -> str:
    for i, element in enumerate(spec.resolved["pipeline"]["elements"]):
        if (element.get("module"), element.get("class_name")) == key:
            return f"pipeline.elements[{i}]"
    return "pipeline.elements"


# -- one LiveModule per file and process -------------------------------------------------------

_SHARED: dict[str, LiveModule | None] = {}
_SHARED_LOCK = threading.Lock()


def shared(path: Path | str, *, interval_seconds: float = DEFAULT_INTERVAL_SECONDS) -> LiveModule | None:
    """The process's `LiveModule` for `path` (the first caller's interval wins); None when the file does
    not pass the checks at start, with one warning: the module then runs without live edits."""
    key = str(Path(path).resolve())
    with _SHARED_LOCK:
        if key not in _SHARED:
            try:
                _SHARED[key] = LiveModule(key, interval_seconds=interval_seconds)
            except (ConfigError, ImportError) as exc:
                log.warning("live edits of %s are off: %s", key, exc)
                _SHARED[key] = None
            else:
                log.info("%s: live edits on (checked every %.1f s)", key, interval_seconds)
        return _SHARED[key]


def open_live(setting: str | None, *, in_savant: bool,
              interval_seconds: float = DEFAULT_INTERVAL_SECONDS) -> LiveModule | None:
    """The shared `LiveModule` a converter, selector or pyfunc uses, from its `watch_module` kwarg
    (see `watched_file`); None when live edits are off for it."""
    path = watched_file(setting, in_savant=in_savant)
    return None if path is None else shared(path, interval_seconds=interval_seconds)


def watched_file(setting: str | None, *, in_savant: bool) -> Path | None:
    """The module YAML a converter or pyfunc should watch, from its `watch_module` kwarg.

    "auto": inside Savant, the YAML its entrypoint was started with (`python -m savant.entrypoint
    module/module.yml`); elsewhere none, since pyuniproc applies edits of its YAML itself
    (pyuniproc.runtime.live_config). "off" (or empty): none. Anything else: that file.
    """
    value = "" if setting is None else str(setting).strip()
    if value.lower() in OFF:
        return None
    if value.lower() != "auto":
        return Path(value)
    return _entrypoint_yaml(tuple(sys.argv[1:])) if in_savant else None


@functools.lru_cache(maxsize=4)
def _entrypoint_yaml(arguments: tuple[str, ...]) -> Path | None:
    """The YAML among Savant's entrypoint arguments (cached: converter, selector and pyfunc all ask)."""
    found = [Path(arg) for arg in arguments if arg.endswith((".yml", ".yaml")) and Path(arg).is_file()]
    if not found:
        log.warning("live edits are off: no module YAML among the arguments %s", list(arguments))
        return None
    return found[-1]


__all__ = ["DEFAULT_INTERVAL_SECONDS", "LiveModule", "LiveSettings", "PyFuncHook", "open_live", "shared",
           "watched_file"]
