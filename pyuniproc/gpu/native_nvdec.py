"""The native NVDEC decode loop (`native/nvdec_loop.c`), built on first use and driven through ctypes.

A few C threads decode all of a process's cameras round robin and write NV12 frames straight into the
pipeline's frame pool; Python asks for a batch of ready slots and gives slots back, one call each per
batch (ctypes releases the GIL during both). See the C file for why: per-frame Python decoding costs the
host more CPU than the H100 machine has at the NVDEC ceiling.

Input is an H.264 or HEVC Annex-B elementary stream in memory (`read_annexb`: a raw .h264 / .h265 file,
or a container remuxed by PyAV). The library needs a C compiler and ffnvcodec's headers to build
(Debian / Ubuntu: `apt install gcc libffmpeg-nvenc-dev`), and the NVIDIA driver (libcuda, libnvcuvid)
to decode; it builds and loads without a GPU and then says what is missing when asked to decode.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("native") / "nvdec_loop.c"
RAW_SUFFIXES = {
    ".h264": "h264",
    ".264": "h264",
    ".avc": "h264",
    ".h265": "hevc",
    ".265": "hevc",
    ".hevc": "hevc",
}
CODECS = {"h264": 0, "hevc": 1}
STAT_NAMES = (
    "rounds",
    "parse_calls",
    "parse_s",
    "status_polls",
    "in_progress",
    "map_copy_s",
    "sync_s",
    "sleeps",
    "room_waits",
    "room_wait_s",
    "frames",
)
READY_DTYPE = np.dtype(
    [
        ("session", np.int32),
        ("slot", np.int32),
        ("index", np.int64),
        ("started", np.float64),
        ("done", np.float64),
    ]
)


class NativeDecodeError(RuntimeError):
    """The native loop could not be built, loaded or started; the message names what is missing."""


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pyuniproc"


def build_library(
    *, out_dir: Path | None = None, compiler: str | None = None, include_dir: str | None = None
) -> Path:
    """Compiles nvdec_loop.c into a shared library named after the source's hash (so an edited source
    rebuilds), or returns the one already built. Raises NativeDecodeError naming what is missing."""
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:12]
    out_dir = out_dir or _cache_dir()
    target = out_dir / f"libnvdec_loop-{digest}.so"
    if target.exists():
        return target
    compiler = compiler or os.environ.get("CC") or "cc"
    if shutil.which(compiler) is None:
        raise NativeDecodeError(
            f"building the native NVDEC loop needs a C compiler ({compiler!r} not found; "
            "Debian / Ubuntu: apt install gcc)"
        )
    include_dir = include_dir or os.environ.get("FFNVCODEC_INCLUDE") or "/usr/include"
    if not (Path(include_dir) / "ffnvcodec" / "dynlink_loader.h").exists():
        raise NativeDecodeError(
            f"building the native NVDEC loop needs ffnvcodec's headers ({include_dir}/ffnvcodec/"
            "dynlink_loader.h not found; Debian / Ubuntu: apt install libffmpeg-nvenc-dev, or set "
            "FFNVCODEC_INCLUDE)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
        partial = Path(scratch) / target.name
        command = [
            compiler,
            "-O2",
            "-Wall",
            "-shared",
            "-fPIC",
            f"-I{include_dir}",
            "-o",
            str(partial),
            str(SOURCE),
            "-lpthread",
            "-ldl",
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise NativeDecodeError(f"compiling {SOURCE.name} failed:\n{result.stderr.strip()}")
        os.replace(partial, target)  # atomic: concurrent builders never load a half-written file
    return target


_library: ctypes.CDLL | None = None


def load_library(path: Path | str | None = None) -> ctypes.CDLL:
    """The loop's library: `path`, else $PYUNIPROC_NVDEC_LOOP, else built from source (once per process)."""
    global _library
    if _library is not None and path is None:
        return _library
    path = path or os.environ.get("PYUNIPROC_NVDEC_LOOP") or build_library()
    library = ctypes.CDLL(str(path))
    handle, i32, u64, f64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64, ctypes.c_double
    library.nvd_last_error.restype = ctypes.c_char_p
    library.nvd_load.restype = i32
    library.nvd_create.restype = handle
    library.nvd_create.argtypes = [u64, i32, i32, u64, i32, i32, i32, i32, i32]
    library.nvd_add_session.restype = i32
    library.nvd_add_session.argtypes = [handle, ctypes.c_char_p, u64, i32]
    library.nvd_start.restype = i32
    library.nvd_start.argtypes = [handle]
    library.nvd_wait_ready.restype = i32
    library.nvd_wait_ready.argtypes = [handle, ctypes.c_void_p, i32, f64, f64]
    library.nvd_release.restype = None
    library.nvd_release.argtypes = [handle, ctypes.c_void_p, i32]
    library.nvd_counts.restype = None
    library.nvd_counts.argtypes = [handle, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    library.nvd_session_message.restype = ctypes.c_char_p
    library.nvd_session_message.argtypes = [handle, i32]
    library.nvd_cpu_seconds.restype = f64
    library.nvd_cpu_seconds.argtypes = [handle]
    library.nvd_set_lookahead.restype = i32
    library.nvd_set_lookahead.argtypes = [handle, i32]
    library.nvd_set_packets.restype = i32
    library.nvd_set_packets.argtypes = [handle, i32, ctypes.c_void_p, i32, i32]
    library.nvd_set_poll.restype = None
    library.nvd_set_poll.argtypes = [handle, i32]
    library.nvd_set_priority.restype = None
    library.nvd_set_priority.argtypes = [handle, i32]
    library.nvd_stats.restype = i32
    library.nvd_stats.argtypes = [handle, ctypes.c_void_p, i32]
    library.nvd_stop.restype = None
    library.nvd_stop.argtypes = [handle]
    library.nvd_destroy.restype = None
    library.nvd_destroy.argtypes = [handle]
    if path is None or _library is None:
        _library = library
    return library


def driver_error(library: ctypes.CDLL) -> str | None:
    """None when libcuda and libnvcuvid load, else the reason they do not."""
    if library.nvd_load() == 0:
        return None
    return library.nvd_last_error().decode()


def codec_of(path: Path | str) -> str:
    return RAW_SUFFIXES.get(Path(path).suffix.lower(), "h264")


def read_annexb(path: Path | str) -> tuple[bytes, str]:
    """(The video's elementary stream in Annex-B form (start codes), as the NVDEC parser reads it; its
    codec, "h264" or "hevc"). Raw .h264 / .h265 files are read as they are (codec by suffix); containers
    are remuxed with PyAV where it is installed (codec from the container)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"video not found: {path}")
    if path.suffix.lower() in RAW_SUFFIXES:
        data = path.read_bytes()
        if not (data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")):
            raise ValueError(f"{path} is not an Annex-B elementary stream (no start code at its beginning)")
        return data, codec_of(path)
    try:
        import av
    except ImportError as error:
        raise NativeDecodeError(
            f"the native NVDEC loop reads Annex-B streams (.h264 / .h265); {path.name} is a container and "
            "PyAV, which would remux it, is not installed (`pyuniproc bench-gpu --make-video` writes "
            "a .h264 beside the .mp4)"
        ) from error
    return remux_annexb(path, av)


def _nal_starts(data: bytes) -> list[tuple[int, int]]:
    """(start code offset, NAL header offset) of every NAL unit in an Annex-B stream."""
    starts = []
    position = data.find(b"\x00\x00\x01")
    while position >= 0:
        begin = position - 1 if position > 0 and data[position - 1] == 0 else position  # 4-byte codes
        starts.append((begin, position + 3))
        position = data.find(b"\x00\x00\x01", position + 3)
    return starts


def split_access_units(data: bytes, codec: str = "h264") -> np.ndarray:
    """Start offsets of the stream's access units (pictures) and, last, its length: (n + 1,) uint64.

    A picture begins at the first parameter set / SEI / delimiter after the previous picture's slices,
    or at a slice that is the first of its picture (first_mb_in_slice == 0 / first_slice_segment flag)."""
    boundaries = []
    seen_slice = False
    for begin, header in _nal_starts(data):
        if header + 2 >= len(data):
            break
        if codec == "hevc":  # H.265 7.4.2.4.4: VPS, SPS, PPS, AUD, prefix SEI, 41-44, 48-55 open a unit
            kind = (data[header] >> 1) & 0x3F
            vcl, prefix = kind < 32, kind in (32, 33, 34, 35, 39, 41, 42, 43, 44) or 48 <= kind <= 55
            first_slice = vcl and bool(data[header + 2] & 0x80)
        else:  # H.264 7.4.1.2.3: SEI, SPS, PPS, AUD and types 14-18 open a unit; 1, 2, 5 carry slices
            kind = data[header] & 0x1F
            vcl, prefix = kind in (1, 2, 5), kind in (6, 7, 8, 9, 14, 15, 16, 17, 18)
            first_slice = vcl and bool(data[header + 1] & 0x80)  # ue(v) first_mb_in_slice == 0
        if (prefix and seen_slice) or (first_slice and seen_slice) or not boundaries:
            boundaries.append(begin)
            seen_slice = False
        if vcl:
            seen_slice = True
    boundaries.append(len(data))
    return np.array(boundaries, dtype=np.uint64)


def annexb_for(video: Path | str) -> tuple[bytes, str]:
    """(Annex-B bytes, codec) for a video: a raw stream as it is; for a container, its raw sibling
    (`clip.h264` beside `clip.mp4`, as `pyuniproc bench-gpu --make-video` writes) when there is one,
    else the container remuxed."""
    path = Path(video)
    if path.suffix.lower() not in RAW_SUFFIXES:
        for suffix in (".h264", ".h265"):
            if path.with_suffix(suffix).exists():
                path = path.with_suffix(suffix)
                break
    return read_annexb(path)


def remux_annexb(path: Path, av: object) -> tuple[bytes, str]:
    """A container's video stream as Annex-B bytes (FFmpeg's raw h264 / hevc muxer adds the start codes
    and parameter sets)."""
    import io

    out = io.BytesIO()
    with av.open(str(path)) as source:  # type: ignore[attr-defined]
        video = source.streams.video[0]
        name = video.codec_context.name
        if name not in ("h264", "hevc"):
            raise ValueError(f"{path.name}: the native NVDEC loop decodes H.264 and HEVC, not {name}")
        with av.open(out, "w", format=name) as sink:  # type: ignore[attr-defined]
            stream = sink.add_stream_from_template(video)
            for packet in source.demux(video):
                if packet.dts is None:
                    continue
                packet.stream = stream
                sink.mux(packet)
    return out.getvalue(), name


class NativeNvdecGroup:
    """One process's cameras decoded by `threads` C threads into `pool` ((slots, H * 3 // 2, W) uint8
    CUDA tensor). Call `start()`, then `wait_ready` / `release` per batch, then `close()`.
    lookahead: pictures a camera may decode ahead of the one waiting to be copied out (1: none).
    poll: map only pictures whose decode has finished (a thread never waits on one camera); False maps
    each camera's next picture at once, waiting for its decode.
    access_units: feed the parser one whole picture at a time (split here once per stream), so each is
    decoded and handed out at once; False feeds `chunk_bytes` pieces cut at picture boundaries (a picture
    then waits for the next one's first bytes; measured faster on the H100, benchmarks/gpu/README.md).
    priority: "high" maps and copies frames out on CUDA streams of the device's greatest priority (ahead of
    queued inference kernels, so decode surfaces come back sooner under load); "normal" the default."""

    def __init__(
        self,
        sources: Sequence[bytes],
        pool: object,
        *,
        threads: int = 6,
        codec: str = "h264",
        loop: bool = True,
        chunk_bytes: int = 4096,
        lookahead: int = 1,
        poll: bool = False,
        access_units: bool = False,
        priority: str = "normal",
        library: ctypes.CDLL | None = None,
    ) -> None:
        import torch

        if priority not in ("normal", "high"):
            raise ValueError(f"priority must be 'normal' or 'high', got {priority!r}")
        if not isinstance(pool, torch.Tensor) or pool.device.type != "cuda" or pool.dtype != torch.uint8:
            raise ValueError("the native NVDEC loop writes into a uint8 CUDA tensor (slots, H * 3 // 2, W)")
        if pool.dim() != 3 or pool.shape[1] % 3 or not pool.is_contiguous():
            raise ValueError(
                f"the frame pool must be contiguous (slots, H * 3 // 2, W), got {tuple(pool.shape)}"
            )
        if codec not in CODECS:
            raise ValueError(f"codec must be one of {', '.join(CODECS)}, got {codec!r}")
        if not sources:
            raise ValueError("no cameras to decode")
        self.library = library or load_library()
        problem = driver_error(self.library)
        if problem:
            raise NativeDecodeError(problem)
        from pyuniproc.gpu.nvdec import _current_cuda_context

        torch.cuda.set_device(pool.device)
        torch.cuda.synchronize(pool.device)  # makes torch's context current in this thread
        slots, rows, width = pool.shape
        self._sources = list(sources)  # the C side reads these buffers in place: keep them alive
        self._pool = pool
        self.sessions = len(self._sources)
        handle = self.library.nvd_create(
            _current_cuda_context(),
            CODECS[codec],
            threads,
            pool.data_ptr(),
            slots,
            width,
            rows * 2 // 3,
            chunk_bytes,
            self.sessions,
        )
        if not handle:
            raise NativeDecodeError(self.library.nvd_last_error().decode())
        self._handle = handle
        for data in self._sources:
            if self.library.nvd_add_session(handle, data, len(data), int(loop)) < 0:
                message = self.library.nvd_last_error().decode()
                self.close()
                raise NativeDecodeError(message)
        if self.library.nvd_set_lookahead(handle, lookahead) != 0:
            message = self.library.nvd_last_error().decode()
            self.close()
            raise ValueError(message)
        self.library.nvd_set_poll(handle, int(poll))
        self.library.nvd_set_priority(handle, int(priority == "high"))
        # access units of each distinct buffer (split once); the C side reads them in place. Chunks are cut
        # at these boundaries too, so one parser call never completes more than one picture.
        self._packets: dict[int, np.ndarray] = {}
        for session, data in enumerate(self._sources):
            if id(data) not in self._packets:
                self._packets[id(data)] = split_access_units(data, codec)
            offsets = self._packets[id(data)]
            if self.library.nvd_set_packets(
                handle, session, offsets.ctypes.data, len(offsets) - 1, int(access_units)
            ):
                message = self.library.nvd_last_error().decode()
                self.close()
                raise ValueError(message)
        self._ready = np.zeros(slots, dtype=READY_DTYPE)
        self._started = False

    def _live(self) -> int:
        """The C handle; a closed loop must never be called (its memory is freed)."""
        if not self._handle:
            raise RuntimeError("the native decode loop is closed")
        return self._handle

    def start(self) -> None:
        if self.library.nvd_start(self._live()) != 0:
            raise NativeDecodeError(self.library.nvd_last_error().decode())
        self._started = True

    def wait_ready(self, most: int, first_timeout: float, fill_wait: float) -> np.ndarray:
        """Up to `most` decoded frames (READY_DTYPE rows, oldest first), waiting at most `first_timeout`
        s for the first and `fill_wait` s more to fill; each row's slot is the caller's until released."""
        most = min(most, len(self._ready))
        n = self.library.nvd_wait_ready(self._live(), self._ready.ctypes.data, most, first_timeout, fill_wait)
        return self._ready[:n].copy()

    def release(self, slots: Sequence[int] | np.ndarray) -> None:
        array = np.ascontiguousarray(slots, dtype=np.int32)
        self.library.nvd_release(self._live(), array.ctypes.data, len(array))

    def status(self) -> tuple[np.ndarray, dict[int, str], np.ndarray]:
        """(frames handed out per session, {session: error message} for the failed ones, ended flags)."""
        decoded = np.zeros(self.sessions, dtype=np.uint64)
        failed = np.zeros(self.sessions, dtype=np.int32)
        ended = np.zeros(self.sessions, dtype=np.int32)
        self.library.nvd_counts(self._live(), decoded.ctypes.data, failed.ctypes.data, ended.ctypes.data)
        errors = {
            int(i): self.library.nvd_session_message(self._live(), int(i)).decode()
            for i in np.flatnonzero(failed)
        }
        return decoded, errors, ended.astype(bool)

    def stats(self) -> dict[str, float]:
        """The decoder threads' counters so far (STAT_NAMES): where their time goes."""
        values = np.zeros(len(STAT_NAMES), dtype=np.float64)
        self.library.nvd_stats(self._live(), values.ctypes.data, len(values))
        return dict(zip(STAT_NAMES, values.tolist(), strict=True))

    def cpu_seconds(self) -> float:
        return float(self.library.nvd_cpu_seconds(self._live()))

    def stop(self) -> None:
        if self._handle:
            self.library.nvd_stop(self._handle)

    def close(self) -> None:
        if self._handle:
            self.library.nvd_destroy(self._handle)
            self._handle = None


class NativeNvdecStream:
    """One camera's file on a native loop of its own (one C thread, `slots` pool frames): the `NV12Stream`
    interface the runtime's NV12 source reads. `read()` returns the next frame as a (H * 3 // 2, W) uint8
    CUDA tensor of its own (copied out of the pool on the device, so the slot goes straight back to the
    decoder), or None at the end of a non-looping file. Create and read it on one thread.

    width / height: the stream's picture size (the pool is allocated before the first picture is parsed; a
    stream of another size fails with a message naming both)."""

    END_GRACE_SECONDS = 0.5
    """After the decoder says the stream ended, how long an empty wait must last before the end is taken as
    real: its last pictures may still be on their way from the decoder's queue to the pool."""

    def __init__(self, video: Path | str, *, width: int, height: int, loop: bool = False, gpu_id: int = 0,
                 slots: int = 4, library: ctypes.CDLL | None = None) -> None:
        import torch

        data, codec = annexb_for(video)
        self.device = torch.device("cuda", gpu_id)
        self._pool = torch.empty((slots, height * 3 // 2, width), dtype=torch.uint8, device=self.device)
        self._group = NativeNvdecGroup([data], self._pool, threads=1, codec=codec, loop=loop, library=library)
        self._group.start()
        self._copies = torch.cuda.Stream(self.device)  # not the default stream: no wait on inference
        self._ended_since: float | None = None

    def read(self) -> object | None:
        import time

        import torch

        while True:
            rows = self._group.wait_ready(1, 0.1, 0.0)
            if len(rows):
                slot = int(rows[0]["slot"])
                with torch.cuda.stream(self._copies):
                    frame = self._pool[slot].clone()
                self._copies.synchronize()  # copied before the slot goes back (and before others read it)
                self._group.release([slot])
                self._ended_since = None
                return frame
            _, errors, ended = self._group.status()
            if errors:
                raise NativeDecodeError(next(iter(errors.values())))
            if not ended[0]:
                continue
            now = time.monotonic()
            if self._ended_since is None:
                self._ended_since = now
            elif now - self._ended_since >= self.END_GRACE_SECONDS:
                return None

    def close(self) -> None:
        self._group.stop()
        self._group.close()
