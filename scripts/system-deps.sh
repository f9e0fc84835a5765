#!/usr/bin/env bash
# Debian packages the test suite needs, installed only when missing (safe to run every time).
#   prometheus: `prometheus` and `promtool`, for tests/telemetry (alert rules, a real scrape).
#   chromium: a headless browser for tests/view (the live view page against a running pipeline).
#   GStreamer's RTSP server (run by Debian's /usr/bin/python3 through python3-gi) and the plugins
#   it needs to serve H.264 MPEG-TS clips and damage them: tests/chaos and scripts/soak.py.
#   libffmpeg-nvenc-dev: headers to build the native NVDEC loop (loads the NVIDIA driver at run time).
# Services are not started by the install (policy-rc.d), so nothing listens on :9090 afterwards.
set -euo pipefail

need=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
RTSP_PACKAGES=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
               gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)
# ffnvcodec's headers: tests/gpu builds the native NVDEC decode loop (pyuniproc/gpu/native) with them
for package in "${RTSP_PACKAGES[@]}" libffmpeg-nvenc-dev; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || need+=("$package")
done

if [ "${#need[@]}" -eq 0 ]; then
    echo "system-deps: all present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "system-deps: need root (or sudo) to install: ${need[*]}" >&2; exit 1; }
    SUDO="sudo"
fi

echo "system-deps: installing ${need[*]}"
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    made_policy=1
fi
cleanup() { [ -n "$made_policy" ] && $SUDO rm -f "$policy"; return 0; }
trap cleanup EXIT

$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
command -v prometheus >/dev/null && command -v promtool >/dev/null && command -v chromium >/dev/null
echo "system-deps: $(prometheus --version 2>&1 | head -1)"
echo "system-deps: $(chromium --version 2>/dev/null | head -1)"
/usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
echo "system-deps: GStreamer RTSP server $(dpkg-query -W -f='${Version}' gir1.2-gst-rtsp-server-1.0)"
