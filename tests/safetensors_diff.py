#!/usr/bin/env python3
# Compares two safetensors files tensor by tensor for tests/test_mpi.sh (standard library only):
# passes when every F32 value has |got - want| <= atol + rtol * |want|, else names the worst.
# usage: safetensors_diff.py GOT WANT ATOL RTOL [PREFIX-TO-SKIP ...]
import json, struct, sys


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in head.items():
        if name == "__metadata__" or t["dtype"] != "F32":
            continue
        a, b = t["data_offsets"]
        out[name] = struct.unpack("<%df" % ((b - a) // 4), data[a:b])
    return out


got, want = load(sys.argv[1]), load(sys.argv[2])
atol, rtol, skip = float(sys.argv[3]), float(sys.argv[4]), tuple(sys.argv[5:])
if sorted(got) != sorted(want):
    sys.exit("tensor names differ: %s" % sorted(set(got) ^ set(want)))
worst = (0.0, None, 0, 0.0, 0.0)  # (excess ratio, name, index, got, want)
for name in sorted(want):
    if skip and name.startswith(skip):
        continue
    for i, (g, w) in enumerate(zip(got[name], want[name])):
        r = abs(g - w) / (atol + rtol * abs(w))
        if not r <= worst[0] and not (r != r and worst[0] != worst[0]):
            worst = (r, name, i, g, w)
r, name, i, g, w = worst
print("worst %s[%d]: got %.9g want %.9g (%.3g of the tolerance)" % (name, i, g, w, r))
sys.exit(0 if r <= 1 else 1)
