#!/usr/bin/env python3
"""FER2013 in a form compact enough to travel to a GPU machine (scripts/gpu-run.sh).

  fer_pack.py pack   <fer2013.csv[.gz]> <out.raw>   # then xz: 61 MB instead of 94
  fer_pack.py unpack <in.raw> <fer2013.csv>         # the CSV again, byte for byte

The CSV is rebuilt exactly (its sha256 is the plain file's in the dataset's SHA256SUMS), so a
run on the GPU machine and one here read the same data. Each face is 2306 bytes: emotion,
usage (0 Training, 1 PublicTest, 2 PrivateTest), 48x48 pixels. A row the rebuilt CSV could
not reproduce stops `pack` with its line number. Standard library only.
"""
import gzip
import os
import sys

HEADER = "emotion,pixels,Usage\n"
USAGES = ["Training", "PublicTest", "PrivateTest"]
PIXELS = 48 * 48


def pack(src, out):
    opener = gzip.open if src.endswith(".gz") else open
    with opener(src, "rt", newline="") as rows:
        if rows.readline() != HEADER:
            sys.exit(f"{src}:1: not FER2013's header {HEADER!r}")
        for number, line in enumerate(rows, start=2):
            emotion, pixels, usage = line.rstrip("\n").split(",")
            values = [int(v) for v in pixels.split(" ")]
            face = bytes([int(emotion), USAGES.index(usage)]) + bytes(values)
            if len(values) != PIXELS or row_text(face) != line:
                sys.exit(f"{src}:{number}: a row the packed form cannot reproduce exactly")
            out.write(face)


def row_text(face):
    pixels = " ".join(map(str, face[2:]))
    return f"{face[0]},{pixels},{USAGES[face[1]]}\n"


def unpack(src, out):
    with open(src, "rb") as packed:
        out.write(HEADER)
        while face := packed.read(PIXELS + 2):
            if len(face) != PIXELS + 2:
                sys.exit(f"{src}: truncated face at byte {packed.tell() - len(face)}")
            out.write(row_text(face))


def write_whole(dst, binary, fill):
    """Writes `dst` through a temporary file, so a stopped run leaves nothing half-written."""
    tmp = f"{dst}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb" if binary else "w", newline=None if binary else "") as out:
            fill(out)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("pack", "unpack"):
        sys.exit(__doc__)
    command, src, dst = sys.argv[1:]
    fill = pack if command == "pack" else unpack
    write_whole(dst, command == "pack", lambda out: fill(src, out))
