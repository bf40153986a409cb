#!/usr/bin/env python3
# This file is part of semflow. It is subject to the license terms in the LICENSE file
# found in the top-level directory of this distribution.
"""Writes test_data/semflow/voc_mini/palette_mask.png: a PASCAL VOC style palette (colour type 3)
PNG, 16x12, labels 0 (background), 1 and 15 (objects) and 255 (void band), with VOC's
colour map. Pure Python (zlib), so it needs nothing but the interpreter.

Label layout (the C++ test rebuilds it to check the reader):
  rows 2..9, cols 3..7  : 15 (person), with a void (255) frame on rows 2 and 9 and cols 3 and 7
  rows 4..7, cols 10..13: 1 (aeroplane)
  everything else       : 0
"""
import os
import struct
import zlib


def voc_colour(label):
    r = g = b = 0
    c = label
    for j in range(8):
        r |= ((c >> 0) & 1) << (7 - j)
        g |= ((c >> 1) & 1) << (7 - j)
        b |= ((c >> 2) & 1) << (7 - j)
        c >>= 3
    return r, g, b


def labels(w=16, h=12):
    out = [[0] * w for _ in range(h)]
    for y in range(2, 10):
        for x in range(3, 8):
            out[y][x] = 255 if y in (2, 9) or x in (3, 7) else 15
    for y in range(4, 8):
        for x in range(10, 14):
            out[y][x] = 1
    return out


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def main():
    lab = labels()
    h, w = len(lab), len(lab[0])
    palette = b"".join(bytes(voc_colour(i)) for i in range(256))
    raw = b"".join(b"\x00" + bytes(row) for row in lab)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)) +
           chunk(b"PLTE", palette) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test_data", "semflow", "voc_mini")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "palette_mask.png"), "wb") as f:
        f.write(png)


if __name__ == "__main__":
    main()
