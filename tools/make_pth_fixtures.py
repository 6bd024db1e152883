#!/usr/bin/env python3
"""Writes the PyTorch-checkpoint test files of issue 20 with torch.save itself (the point: the
engine's reader is checked against the real writer, not against a writer of ours).

    python3 tools/make_pth_fixtures.py --reference ../shared/reference --out tests/data/pth

Runs where PyTorch is installed (the GPU machine). For every reference model folder it writes
<family>.pth, the folder's model.safetensors state dict saved by torch.save (zip format). It also
writes the cases a reader must get right or refuse:
  legacy_mamba.pth     the same state dict in the pre-1.6 tar-less legacy format
                       (_use_new_zipfile_serialization=False)
  layouts.pth          float32 / float16 / bfloat16 / int64 tensors, a transposed (strided) view,
                       a slice with a storage offset, two names sharing one storage, a scalar
  nested.pth           {"state_dict": {...}, "epoch": 3} as training scripts save it
  evil_system.pth      a pickle whose object reduces to os.system (must be refused, never run)
  evil_eval.pth        a pickle calling builtins.eval
  evil_getattr.pth     a pickle fetching builtins.getattr, as exploit chains do
layouts.json records every tensor of layouts.pth (dtype, shape, values as float64 lists) so the
test compares the reader's values with torch's own.
"""
import argparse
import json
import os

import torch
from safetensors.torch import load_file


class _System:
    def __reduce__(self):
        return (os.system, ("echo statescope-must-never-run-this",))


class _Eval:
    def __reduce__(self):
        return (eval, ("1+1",))


class _Getattr:
    def __reduce__(self):
        return (getattr, ("", "join"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    models = os.path.join(args.reference, "models")
    for name in sorted(os.listdir(models)):
        st = os.path.join(models, name, "model.safetensors")
        if os.path.exists(st):
            torch.save(load_file(st), os.path.join(args.out, name + ".pth"))
    torch.save(load_file(os.path.join(models, "mamba", "model.safetensors")),
               os.path.join(args.out, "legacy_mamba.pth"), _use_new_zipfile_serialization=False)

    g = torch.Generator().manual_seed(20)
    base = torch.randn(5, 7, generator=g)
    shared = torch.randn(4, 3, generator=g)
    layouts = {
        "f32": torch.randn(3, 4, generator=g),
        "f16": torch.randn(6, generator=g).half(),
        "bf16": torch.randn(2, 5, generator=g).bfloat16(),
        "i64": torch.arange(-3, 9, dtype=torch.int64).reshape(3, 4),
        "transposed": base.t(),
        "offset_slice": base[2:4, 1:6],
        "tied_a": shared,
        "tied_b": shared,
        "scalar": torch.tensor(2.5),
    }
    torch.save(layouts, os.path.join(args.out, "layouts.pth"))
    with open(os.path.join(args.out, "layouts.json"), "w") as f:
        json.dump({k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape),
                       "values": v.double().flatten().tolist()} for k, v in layouts.items()}, f, indent=1)
    torch.save({"state_dict": {"w": torch.ones(2, 2)}, "epoch": 3}, os.path.join(args.out, "nested.pth"))
    torch.save({"w": _System()}, os.path.join(args.out, "evil_system.pth"))
    torch.save({"w": _Eval()}, os.path.join(args.out, "evil_eval.pth"))
    torch.save({"w": _Getattr()}, os.path.join(args.out, "evil_getattr.pth"))
    print("torch", torch.__version__)
    for n in sorted(os.listdir(args.out)):
        print(f"{n:24s} {os.path.getsize(os.path.join(args.out, n)):9d} bytes")


if __name__ == "__main__":
    main()
