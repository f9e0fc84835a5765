"""The accuracy protocol: fixed held-out scenes, one command, per-scene and mean/worst scores.

`protocol` fixes the scenes (test seeds scored, tuning seeds tuned on), `measure` scores one scene
with the existing pipeline recording, replay and TrackEval scoring, `bands` splits recall and
precision by person height, `report` aggregates and writes JSON/Markdown/HTML, `command` is
`pyuniproc accuracy`.
"""
