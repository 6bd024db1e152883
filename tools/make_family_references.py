#!/usr/bin/env python3
"""Writes reference checkpoints for families the engine does not load yet (issue 19), in the layout
of ../shared/reference (read its README): config.json + model.safetensors written by the defining
library, reference.safetensors with its float32 outputs, reference.json listing them.

    PYTHONPATH=<dir holding fla/> python3 tools/make_family_references.py --out tests/data/references

Runs on the GPU machine (fla's kernels are Triton). Unlike the shared references, every norm weight
and gate bias is perturbed away from its initial value (x U(0.5, 1.5), + N(0, 0.1)), so a loader that
drops a norm weight or a bias cannot pass by accident (issue 18's finding).
"""
import argparse
import json
import os

import torch

SEQ_LEN = 48
PREFIXES = [1, 5, 16, 33, 48]
VOCAB = 512


def configs():
    from fla.models import KDAConfig, RWKV6Config
    common = dict(hidden_size=64, num_hidden_layers=2, vocab_size=VOCAB, fuse_norm=False, fuse_swiglu=False,
                  fuse_cross_entropy=False, tie_word_embeddings=False)
    out = {
        "kda": (KDAConfig(num_heads=4, head_dim=16, use_short_conv=True, conv_size=4, attn_mode="fused_recurrent",
                          hidden_ratio=4, **common),
                "Kimi Delta Attention: gated delta rule with a per-channel forget gate (diagonal times Householder)"),
        "kda_negeig_lowerbound": (KDAConfig(num_heads=2, head_dim=32, use_short_conv=True, conv_size=4,
                                            allow_neg_eigval=True, lower_bound=-5.0, attn_mode="fused_recurrent",
                                            hidden_ratio=4, **common),
                                  "KDA with beta in [0, 2] and the forget gate's lower bound -5"),
        "rwkv6": (RWKV6Config(num_heads=4, expand_k=0.5, expand_v=1.0, attn_mode="fused_recurrent", **common),
                  "RWKV-6 (Finch): data-dependent vector decay and the bonus u"),
    }
    return out


def perturb(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.mul_(torch.empty_like(p).uniform_(0.5, 1.5, generator=gen))
            elif name.endswith("bias") or "dt_bias" in name:
                p.add_(0.1 * torch.randn(p.shape, generator=gen, device=p.device))


def cache_tensors(cache, P):
    out = {}
    for l in range(len(cache)):
        st = cache[l]
        if st.get("recurrent_state") is not None:
            out[f"state.t{P}.L{l}.recurrent_state"] = st["recurrent_state"].float().cpu().contiguous()
        cs = st.get("conv_state")
        if isinstance(cs, (tuple, list)):
            for i, c in enumerate(cs):
                out[f"state.t{P}.L{l}.conv_state.{i}"] = c.float().cpu().contiguous()
        elif cs is not None:
            out[f"state.t{P}.L{l}.conv_state"] = cs.float().cpu().contiguous()
        fs = st.get("ffn_state")
        if fs is not None:
            out[f"state.t{P}.L{l}.ffn_state"] = fs.float().cpu().contiguous()
    return out


def write(name, cfg, note, out_dir, seed):
    from fla.models import KDAForCausalLM, RWKV6ForCausalLM  # noqa: F401 (registers the auto classes)
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg).float()
    perturb(model, gen)
    model = model.cuda().eval()
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    # fla's models list their tied weights (`_tied_weights_keys = ["lm_head.weight"]`), while
    # transformers 5 expects a dict (as tools/train_demos.py); nothing is tied here.
    for m in model.modules():
        if isinstance(getattr(m, "_tied_weights_keys", None), list):
            m._tied_weights_keys = {}
    model.save_pretrained(folder)
    ids = torch.randint(0, VOCAB, (1, SEQ_LEN), generator=gen).cuda()
    tensors = {"input_ids": ids.cpu().to(torch.int64).contiguous()}
    notes = []
    with torch.no_grad():
        o = model(input_ids=ids, output_hidden_states=True, use_cache=False)
        tensors["logits"] = o.logits[0].float().cpu().contiguous()
        for i, h in enumerate(o.hidden_states):
            tensors[f"hidden.{i}"] = h[0].float().cpu().contiguous()
        for P in PREFIXES:
            o = model(input_ids=ids[:, :P], use_cache=True)
            tensors[f"logits.t{P}"] = o.logits[0, -1].float().cpu().contiguous()
            try:
                tensors.update(cache_tensors(o.past_key_values, P))
            except Exception as e:  # states are optional; logits are what verify must match
                notes.append(f"state at t{P} not written: {e!r}")
    save_file(tensors, os.path.join(folder, "reference.safetensors"))
    meta = {"name": name, "library": "fla", "note": note, "set": "extra", "seq_len": SEQ_LEN, "prefixes": PREFIXES,
            "weights_dtype": "float32", "seed": seed,
            "reference_precision": "float32 on CUDA (tf32 off for torch matmul; fla picks its fused recurrent kernels "
                                   "for <= 64 tokens)",
            "perturbed": "norm weights x U(0.5, 1.5), biases + N(0, 0.1)", "notes": notes,
            "torch": torch.__version__, "device": torch.cuda.get_device_name(),
            "tensors": {k: list(v.shape) for k, v in tensors.items()}}
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"{name}: {len(tensors)} tensors, notes {notes}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", help="comma-separated names")
    ap.add_argument("--seed", type=int, default=19)
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for i, (name, (cfg, note)) in enumerate(configs().items()):
        if args.only and name not in args.only.split(","):
            continue
        try:
            write(name, cfg, note, args.out, args.seed + i)
        except Exception as e:
            import traceback
            traceback.print_exc()
            print(f"{name}: FAILED {e!r}", flush=True)


if __name__ == "__main__":
    main()
