"""A real RTSP server for the chaos tests: GStreamer's RTSP server serving H.264 MPEG-TS files.

Runs under Debian's /usr/bin/python3 (python3-gi and gir1.2-gst-rtsp-server-1.0 are Debian packages,
not in the project venv), so the tests start it as a subprocess and steer it from outside:

    kill      SIGKILL the process (every connection drops at once); start it again on the same port
    stall     SIGSTOP (connections stay open, nothing is sent, new connects are never answered);
              SIGCONT resumes
    corrupt   the line "corrupt <mount> <probability>" on stdin sets the share of H.264 buffers
              whose bytes `breakmydata` damages (0 = clean), on every running session of that mount

Usage: rtsp_server.py --port 0 --mount cam=/tmp/a.ts [--mount cam2=/tmp/b.ts ...]
Prints "READY <port>" on stdout once listening, on 127.0.0.1 only. Each client gets its own
pipeline from the start of the file, paced in real time by the file's timestamps.
"""

from __future__ import annotations

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

LAUNCH = (
    "( filesrc location={path} ! tsdemux ! h264parse ! breakmydata name=damage probability={p} seed={seed} "
    "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
)


class Mount:
    def __init__(self, name: str, path: str, seed: int) -> None:
        self.name = name
        self.probability = 0.0
        self.elements: list[Gst.Element] = []
        self.factory = GstRtspServer.RTSPMediaFactory()
        self.factory.set_shared(False)
        self.factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
        self.path, self.seed = path, seed
        self.factory.set_launch(LAUNCH.format(path=path, p=0.0, seed=seed))
        self.factory.connect("media-configure", self._configure)

    def _configure(self, factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
        damage = media.get_element().get_by_name_recurse_up("damage")
        if damage is not None:
            damage.set_property("probability", self.probability)
            self.elements.append(damage)

    def corrupt(self, probability: float) -> None:
        self.probability = probability
        for element in self.elements:
            element.set_property("probability", probability)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mount", action="append", default=[], metavar="NAME=FILE")
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts: dict[str, Mount] = {}
    points = server.get_mount_points()
    for i, item in enumerate(args.mount):
        name, _, path = item.partition("=")
        mounts[name] = Mount(name, path, seed=i + 1)
        points.add_factory(f"/{name}", mounts[name].factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()

    def on_stdin(channel: GLib.IOChannel, condition: GLib.IOCondition) -> bool:
        line = sys.stdin.readline()
        if not line:
            loop.quit()
            return False
        parts = line.split()
        if len(parts) == 3 and parts[0] == "corrupt" and parts[1] in mounts:
            mounts[parts[1]].corrupt(float(parts[2]))
            print(f"OK {line.strip()}", flush=True)
        return True

    GLib.io_add_watch(
        GLib.IOChannel.unix_new(sys.stdin.fileno()),
        GLib.PRIORITY_DEFAULT,
        GLib.IOCondition.IN | GLib.IOCondition.HUP,
        on_stdin,
    )
    GLib.timeout_add(200, lambda: True)  # let Python see signals
    print(f"READY {server.get_bound_port()}", flush=True)
    try:
        loop.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
