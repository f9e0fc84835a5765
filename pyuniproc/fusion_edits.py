"""Live edits of the module YAML for `pyuniproc fusion`, the Savant deployment's fusion service.

In the Savant deployment the module embeds every person and the fusion service decides which embeddings
it trusts (`parameters.reid`'s crop-quality gate) and how identities are linked (`parameters.fusion`).
The service reads the module YAML it is given (`--module`; compose mounts ./module so it is the file
the module runs), and follows edits between two messages, checked by `load_module_config` as pyuniproc
checks them:

- the gate's thresholds apply to the next frame (`config_reloaded`, section "reid");
- `parameters.fusion` applies to the next decision round (`Fusion.reconfigure`: identities and tracks
  are kept), except the fields the floor comparisons are built from at start (`FLOOR_FIELDS`: what the
  floor learned depends on them), each reported once as `config_restart_needed`;
- the ReID schedule (`refresh_frames`, `max_crops_per_frame`) has no effect here: Savant's attribute
  model embeds every person on every frame. Everything else in the file is the module's concern.

A bad edit is `config_rejected` with file, line and field. Notices are the runtime's event dicts; the
service keeps them in its events and tags the next frame it sends with them (`config.events`), as the
module's pyfunc does.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from pyuniproc.config.module import ModuleConfig
from pyuniproc.config.yaml_source import load_yaml
from pyuniproc.fusion import Fusion
from pyuniproc.fusion.config import FLOOR_FIELDS
from pyuniproc.reid import QualityGate
from pyuniproc.runtime.build import GATE_OPTIONS
from pyuniproc.runtime.live_config import ModuleWatcher

log = logging.getLogger(__name__)


def quality_gate(module: ModuleConfig) -> QualityGate:
    """The crop-quality gate `parameters.reid` describes (ValueError for a bad threshold)."""
    selection = module.reid.selection if module.reid else {}
    return QualityGate(**{k: v for k, v in selection.items() if k in GATE_OPTIONS})


class FusionEdits:
    """Follows the module YAML for the fusion service; `poll()` between messages."""

    def __init__(self, module: ModuleConfig, fusion: Fusion | None = None, *,
                 interval_seconds: float = 2.0) -> None:
        self.module = module
        self.fusion = fusion  # the running Fusion, reconfigured by an edit of parameters.fusion
        self._started = module.fusion  # what the running Fusion was built with
        self.watcher = ModuleWatcher(module.path, interval_seconds=interval_seconds)
        self._reported: dict[str, Any] = {}  # parameters.fusion fields reported as needing a restart

    def poll(self) -> tuple[QualityGate | None, list[dict[str, Any]]]:
        """(the new gate if an edit changed it, notices) — (None, []) when nothing was edited."""
        edited = self.watcher.poll()
        if edited is None:
            return None, []
        if isinstance(edited, Exception):
            return None, [self._rejected(edited)]
        try:
            gate = quality_gate(edited)
        except (TypeError, ValueError) as exc:  # QualityGate's messages start with the threshold's name
            named = [k for k in GATE_OPTIONS if str(exc).startswith(k)]
            field = "parameters.reid" + (f".{named[0]}" if named else "")
            return None, [self._rejected(load_yaml(edited.path).error(field, str(exc)))]
        notices, fusion_applied = self._fusion_edits(edited)
        changed = gate != quality_gate(self.module)
        self.module = edited
        sections = (["reid"] if changed else []) + (["fusion"] if fusion_applied else [])
        if not sections:
            return None, notices
        self.watcher.accepted()
        if changed:
            log.info("%s: crop-quality gate edited, applied: %s", edited.path, gate)
        return (gate if changed else None), notices + [_notice(
            "config_reloaded", sections=sections, version=self.watcher.status.version, file=str(edited.path))]

    def _fusion_edits(self, edited: ModuleConfig) -> tuple[list[dict[str, Any]], bool]:
        """Apply an edit of parameters.fusion to the running Fusion; (restart notices, whether applied).

        Fields in FLOOR_FIELDS keep their start values (each reported once); the rest apply."""
        if edited.fusion is None or self._started is None:
            return [], False
        running = self.fusion.config if self.fusion is not None else self._started
        started = dataclasses.asdict(self._started)
        now = dataclasses.asdict(edited.fusion)
        doc = load_yaml(edited.path)
        notices = []
        fixed = {name for name in now if name in FLOOR_FIELDS or self.fusion is None}
        for name in sorted(fixed):
            value = now[name]
            if value == started[name] or self._reported.get(name) == value:
                continue
            field = f"parameters.fusion.{name}"
            error = doc.error(field, f"edited to {value!r}; fusion builds its floor comparisons from it at "
                              f"start, so the service keeps {started[name]!r} until it is restarted")
            log.warning("%s", error)
            notices.append(_notice("config_restart_needed", error=str(error), file=error.path,
                                   line=error.line, field=field, running=started[name], edited=value))
        self._reported = {k: v for k, v in now.items() if k in fixed and v != started[k]}
        live = dataclasses.replace(edited.fusion, **{name: started[name] for name in fixed})
        if self.fusion is None or live == running:
            return notices, False
        self.fusion.reconfigure(live)
        changed = sorted(k for k, v in dataclasses.asdict(live).items() if v != getattr(running, k))
        log.info("%s: fusion parameters edited, applied: %s", edited.path, ", ".join(changed))
        return notices, True

    def _rejected(self, error: Exception) -> dict[str, Any]:
        log.error("%s; the fusion service keeps its previous configuration", error)
        self.watcher.rejected(error)
        return _notice("config_rejected", error=str(error), file=getattr(error, "path", None),
                       line=getattr(error, "line", None), field=getattr(error, "field", None))


def _notice(kind: str, **details: Any) -> dict[str, Any]:
    return {"kind": kind, "camera_id": None, **details, "at": time.time()}


__all__ = ["FusionEdits", "quality_gate"]
