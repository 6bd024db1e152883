#!/usr/bin/env python3
"""Times flash-linear-attention's Triton chunk kernels, the peer that `statescope-cli bench`
is measured against, at the same shapes and on the same card, so both tables come from one run.

    PYTHONPATH=<dir holding fla/> python3 tools/bench_fla_peer.py [--configs 8x4096,1x65536]

fla's source is not part of this project: the GPU run carries a copy fetched from
github.com/fla-org/flash-linear-attention. Inputs are bf16 (fla's usual dtype) with an fp32
state, heads H=16 and K=V=128 as in issue 3. Accuracy: the relative L2 error of fla's output
against a float64 recurrence on the first batch element and head, the same measure our bench
prints.
"""
import argparse
import math

import torch
import triton.testing

from fla.ops.delta_rule import chunk_delta_rule
from fla.ops.gla import chunk_gla
from fla.ops.linear_attn import chunk_linear_attn
from fla.ops.simple_gla import chunk_simple_gla


def reference(q, k, v, g=None, gk=None, beta=None, scale=1.0):
    """o_t = S_t^T q_t with S_t = A_t S_{t-1} + beta k v^T (delta rule: S (I - beta k k^T)), float64."""
    q, k, v = (x.double() for x in (q, k, v))
    T, K = q.shape
    V = v.shape[1]
    S = torch.zeros(K, V, dtype=torch.float64, device=q.device)
    out = torch.empty(T, V, dtype=torch.float64, device=q.device)
    for t in range(T):
        if g is not None:
            S = S * math.exp(float(g[t]))
        if gk is not None:
            S = S * torch.exp(gk[t].double())[:, None]
        if beta is not None:
            b = float(beta[t])
            S = S - b * torch.outer(k[t], k[t] @ S) + b * torch.outer(k[t], v[t])
        else:
            S = S + torch.outer(k[t], v[t])
        out[t] = (q[t] * scale) @ S
    return out


def rel(a, b):
    return float((a.double() - b).norm() / b.norm().clamp_min(1e-30))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", default="8x4096,1x65536")
    ap.add_argument("--check-tokens", type=int, default=512, help="tokens of the float64 accuracy check")
    args = ap.parse_args()
    torch.manual_seed(0)
    dev = "cuda"
    H, K, V = 16, 128, 128
    print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}  triton {triton.__version__}")
    print(f"{'kernel':<28} {'B':>3} {'T':>6} {'ms':>9} {'GB/s':>8} {'TFLOP/s':>8} {'rel err vs f64':>15}")
    for cfg in args.configs.split(","):
        B, T = (int(x) for x in cfg.split("x"))
        bf = torch.bfloat16
        q = torch.randn(B, T, H, K, device=dev, dtype=bf)
        k = torch.nn.functional.normalize(torch.randn(B, T, H, K, device=dev, dtype=torch.float32), dim=-1).to(bf)
        v = torch.randn(B, T, H, V, device=dev, dtype=bf)
        g = -torch.rand(B, T, H, device=dev, dtype=torch.float32) * 0.1
        gk = torch.nn.functional.logsigmoid(torch.randn(B, T, H, K, device=dev, dtype=torch.float32)) / 16
        beta = torch.rand(B, T, H, device=dev, dtype=bf)
        scale = K ** -0.5
        cases = {
            "linear attention (chunk)": (lambda: chunk_linear_attn(q, k, v, scale=scale, normalize=False),
                                         dict()),
            "scalar decay (simple_gla)": (lambda: chunk_simple_gla(q, k, v, g=g, scale=scale), dict(g=g)),
            "GLA vector decay (chunk)": (lambda: chunk_gla(q, k, v, g=gk, scale=scale), dict(gk=gk)),
            "delta rule (chunk)": (lambda: chunk_delta_rule(q, k, v, beta=beta, scale=scale), dict(beta=beta)),
        }
        # Bytes: q, k, v and o in bf16, plus the gates/beta actually read.
        base_bytes = B * T * H * (3 * K + V) * 2
        for name, (fn, extra) in cases.items():
            out = fn()
            o = out[0] if isinstance(out, tuple) else out
            ms = triton.testing.do_bench(fn, warmup=25, rep=200)
            extra_bytes = sum(x.numel() * x.element_size() for x in extra.values())
            gbs = (base_bytes + extra_bytes) / ms / 1e6
            flops = 4.0 * B * T * H * K * V + (2.0 * B * T * H * K * K if "delta" in name else 0.0)
            n = min(T, args.check_tokens)
            sel = {key: val[0, :n, 0] for key, val in extra.items()}
            ref = reference(q[0, :n, 0], k[0, :n, 0], v[0, :n, 0], g=sel.get("g"), gk=sel.get("gk"),
                            beta=sel.get("beta"), scale=scale)
            err = rel(o[0, :n, 0], ref)
            print(f"{name:<28} {B:>3} {T:>6} {ms:>9.3f} {gbs:>8.0f} {flops / ms / 1e9:>8.1f} {err:>15.2e}", flush=True)


if __name__ == "__main__":
    main()
