"""`pyuniproc serve`: the embedded runtime as a Savant module, behind Savant's own adapter containers.

    ingress.py     Savant's source protocol in (ROUTER): sources appear, stream, end, are evicted;
                   the pipeline's `Feed`
    source.py      one source stream as a camera source: bounded queue (backpressure), PyAV decoding
    decode.py      PyAV decoders for Savant's codecs (H.264, HEVC, JPEG, PNG, raw RGBA/RGB)
    egress.py      annotated frames and ends of stream out (PUB), as Savant's module sink sends them
    accounting.py  unusable input counted by reason, logged once per reason; /metrics totals
    service.py     sockets + ingress + the runtime's `Pipeline` + egress
    command.py     the CLI subcommand (`register(subparsers)`)

The savant-rs message layout itself lives in `pyuniproc.transport` (frames.py, video.py).
"""
