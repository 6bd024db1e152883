#!/usr/bin/env python3
"""Trains Statescope's demonstration models (assets/models/, issue 14 section 1) with the libraries
that define the architectures, and writes each one as a Hugging Face folder the engine loads.

    PYTHONPATH=<dir holding fla/> python3 tools/train_demos.py --out DIR [--models a,b] [--budget S]

Every model is trained in its own process (all at once with --parallel: they are tiny, and most of
a short run is Triton compiling kernels, which then overlaps). Each folder gets:
  config.json + model.safetensors  what the library's save_pretrained writes (float32)
  tokenizer.json                   a BPE vocabulary whose tokens are all added tokens, split on
                                   whitespace, so "k3 v7" -> [3, 67] and back (see make_tokenizer)
  task.json                        how to generate a sample and which positions are scored
  reference.safetensors/.json      the library's own float32 outputs (TF32 off) on one sample, the
                                   layout of shared/reference, for `statescope-cli verify FOLDER`
  README.md                        recipe, command and the accuracy measured here
  results.json                     the same numbers, machine-readable
fla's source is not part of this project: the GPU run carries a copy of
github.com/fla-org/flash-linear-attention (commit bc3b101) and puts it on PYTHONPATH.

Timing seen on one H200 (docs/train-logs/): with six or seven models at once, Triton's first
compilation takes about 150 s of each model's --budget; evaluation (new lengths compile again) and
writing take another 60-120 s after it, so give the command at least budget + 150 s. The folder is
written before the evaluation; results.json and README.md after it.

Accuracy is always the fraction of scored positions (task.json "score") whose arg-max logit is the
target, over fresh samples drawn with an evaluation seed the training never used.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # --readme needs no torch
    torch = F = None


def no_grad(fn):
    def run(*a, **kw):
        with torch.no_grad():
            return fn(*a, **kw)
    return run

FLA_COMMIT = "bc3b101"

# --------------------------------------------------------------------------------------------------
# Tasks. Each one: tokens (id -> string), sample(B, gen, **lengths) -> (ids [B,T], labels [B,T] with
# -100 where nothing is scored), and task_json() for the C++ side.
# --------------------------------------------------------------------------------------------------


class Parity:
    """Running parity: inputs 0/1; the target at every position t is the parity of tokens 0..t."""
    kind = "running_parity"

    def __init__(self, train_len=64):
        self.tokens = ["0", "1"]
        self.train_len = train_len

    def sample(self, B, gen, length=None, device="cuda"):
        T = length or self.train_len
        x = torch.randint(0, 2, (B, T), generator=gen, device=device)
        y = torch.cumsum(x, dim=1) % 2
        return x, y

    def task_json(self):
        return {
            "kind": self.kind,
            "tokens": {"0": 0, "1": 1},
            "input": "each token uniform in {0, 1}, independently",
            "target": "at every position t: id of the parity of the tokens 0..t (0 = even number of 1s, 1 = odd)",
            "score": "every position",
            "train_lengths": [self.train_len],
            "eval_lengths": [64, 256],
            "default_length": 64,
        }


class MQAR:
    """Multi-query associative recall: P pairs k v, then the P keys again in a new order, each followed
    by its value; scored at the query keys (the target is the value that follows)."""
    kind = "mqar"

    def __init__(self, n_keys=64, n_values=64, min_pairs=2, max_pairs=16):
        self.nk, self.nv = n_keys, n_values
        self.tokens = [f"k{i}" for i in range(n_keys)] + [f"v{i}" for i in range(n_values)]
        self.min_pairs, self.max_pairs = min_pairs, max_pairs

    def sample(self, B, gen, pairs=None, device="cuda"):
        if pairs is None:
            return self.sample_train(B, gen, device)
        P = pairs
        keys = torch.argsort(torch.rand(B, self.nk, generator=gen, device=device), dim=1)[:, :P]  # distinct
        vals = torch.randint(0, self.nv, (B, P), generator=gen, device=device) + self.nk
        order = torch.argsort(torch.rand(B, P, generator=gen, device=device), dim=1)
        qk = torch.gather(keys, 1, order)
        qv = torch.gather(vals, 1, order)
        T = 4 * P
        ids = torch.empty(B, T, dtype=torch.long, device=device)
        ids[:, 0:2 * P:2], ids[:, 1:2 * P:2] = keys, vals
        ids[:, 2 * P::2], ids[:, 2 * P + 1::2] = qk, qv
        labels = torch.full_like(ids, -100)
        labels[:, 2 * P::2] = qv
        return ids, labels

    def sample_train(self, B, gen, device="cuda", T=64):
        """Training batches, all of length T = 4 * max_pairs (fla's backward kernels compile once per
        length): each row has its own P in [min_pairs, max_pairs]; P pairs, the P keys again in a new
        order, then further queries of stored keys drawn uniformly until the row is full."""
        Pmax = self.max_pairs
        P = torch.randint(self.min_pairs, Pmax + 1, (B, 1), generator=gen, device=device)
        keys = torch.argsort(torch.rand(B, self.nk, generator=gen, device=device), dim=1)[:, :Pmax]
        vals = torch.randint(0, self.nv, (B, Pmax), generator=gen, device=device) + self.nk
        ar = torch.arange(Pmax, device=device)[None]
        perm = torch.argsort(torch.rand(B, Pmax, generator=gen, device=device) + 2.0 * (ar >= P), dim=1)
        nq = T // 2  # query slots: row i uses the first T/2 - P_i
        q = torch.arange(nq, device=device)[None]
        extra = (torch.rand(B, nq, generator=gen, device=device) * P).long().clamp_max(Pmax - 1)
        qidx = torch.where(q < P, torch.gather(perm, 1, q.clamp_max(Pmax - 1).expand(B, nq)), extra)
        j = torch.arange(T, device=device)[None].expand(B, T)
        in_pairs = j < 2 * P
        pair_i = (j // 2).clamp_max(Pmax - 1)
        qslot = ((j - 2 * P).clamp_min(0) // 2).clamp_max(nq - 1)
        src = torch.where(in_pairs, pair_i, torch.gather(qidx, 1, qslot))
        kk, vv = torch.gather(keys, 1, src), torch.gather(vals, 1, src)
        is_key = (j % 2) == 0
        ids = torch.where(is_key, kk, vv)
        labels = torch.where(is_key & ~in_pairs, vv, torch.full_like(vv, -100))
        return ids, labels

    def task_json(self):
        return {
            "kind": self.kind,
            "tokens": {"keys": [0, self.nk - 1], "values": [self.nk, self.nk + self.nv - 1]},
            "key_token": "k<i> has id i", "value_token": "v<j> has id %d + j" % self.nk,
            "input": ("P distinct keys drawn uniformly without replacement, each with a value drawn uniformly "
                      "(with replacement); the sequence is k_1 v_1 k_2 v_2 ... k_P v_P, then the same P keys in "
                      "a uniformly random order, each followed by its value: length 4P"),
            "target": "at the position of each query key (positions 2P, 2P+2, ..., 4P-2): the id of its value",
            "score": "query-key positions only (P per sample)",
            "train_pairs": [self.min_pairs, self.max_pairs],
            "training_sequences": ("length 64: P pairs (P uniform in train_pairs, per sequence), the P keys in a new "
                                   "order, then stored keys drawn uniformly (each with its value) until 64 tokens"),
            "default_pairs": 8,
            "length": "4 * pairs",
        }


# S3 as permutations of (0, 1, 2): p[i] is the image of i. Names in cycle notation on 1, 2, 3.
S3 = [((0, 1, 2), "e"), ((1, 0, 2), "(12)"), ((2, 1, 0), "(13)"), ((0, 2, 1), "(23)"),
      ((1, 2, 0), "(123)"), ((2, 0, 1), "(132)")]


class S3Composition:
    """Word problem of S3: random elements x_0 x_1 ...; target at t is r_t = x_t o r_{t-1}, r_{-1} = e,
    where (b o a)[i] = b[a[i]] (x_0 applied first)."""
    kind = "s3_composition"

    def __init__(self, train_len=64):
        self.tokens = [name for _, name in S3]
        self.train_len = train_len
        perms = [p for p, _ in S3]
        idx = {p: i for i, p in enumerate(perms)}
        # table[prev][x] = id of x o prev
        self.table = [[idx[tuple(perms[x][perms[prev][i]] for i in range(3))] for x in range(6)] for prev in range(6)]

    def sample(self, B, gen, length=None, device="cuda"):
        T = length or self.train_len
        x = torch.randint(0, 6, (B, T), generator=gen, device=device)
        table = torch.tensor(self.table, device=device)
        y = torch.empty_like(x)
        r = torch.zeros(B, dtype=torch.long, device=device)
        for t in range(T):
            r = table[r, x[:, t]]
            y[:, t] = r
        return x, y

    def task_json(self):
        return {
            "kind": self.kind,
            "tokens": {name: i for i, (_, name) in enumerate(S3)},
            "permutations": {name: list(p) for p, name in S3},
            "composition": "(b o a)[i] = b[a[i]]; permutation p maps i to p[i] (0-based; names are cycles on 1,2,3)",
            "table": self.table,
            "table_meaning": "table[prev][x] = id of x o prev",
            "input": "each token uniform over the 6 elements, independently",
            "target": "at every position t: r_t = table[r_{t-1}][x_t] with r_{-1} = e (id 0), i.e. x_t o ... o x_0",
            "score": "every position",
            "train_lengths": [self.train_len],
            "eval_lengths": [64, 256],
            "default_length": 64,
        }


class SelectiveCopy:
    """Selective copying (Mamba paper, section 4.1.1 in miniature): n_data data tokens at random
    positions of a region of noise tokens, then the separator, then the data tokens in order (fed
    back as inputs). Scored where the next data token is predicted: the separator and the first
    n_data - 1 copies."""
    kind = "selective_copy"

    def __init__(self, n_symbols=8, region=48, n_data=8):
        self.ns, self.region, self.nd = n_symbols, region, n_data
        self.tokens = [chr(ord("A") + i) for i in range(n_symbols)] + [".", "|"]
        self.noise, self.sep = n_symbols, n_symbols + 1

    def sample(self, B, gen, region=None, device="cuda"):
        R = region or self.region
        pos = torch.sort(torch.argsort(torch.rand(B, R, generator=gen, device=device), dim=1)[:, :self.nd], dim=1).values
        data = torch.randint(0, self.ns, (B, self.nd), generator=gen, device=device)
        ids = torch.full((B, R + 1 + self.nd), self.noise, dtype=torch.long, device=device)
        ids.scatter_(1, pos, data)
        ids[:, R] = self.sep
        ids[:, R + 1:] = data
        labels = torch.full_like(ids, -100)
        labels[:, R:R + self.nd] = data
        return ids, labels

    def task_json(self):
        return {
            "kind": self.kind,
            "tokens": {"data": [0, self.ns - 1], "noise": self.noise, "separator": self.sep},
            "token_names": self.tokens,
            "input": ("a region of R tokens, all noise '.' except n_data positions drawn uniformly without "
                      "replacement, which hold data tokens drawn uniformly (with replacement); then the "
                      "separator '|'; then the n_data data tokens in their order of appearance: length R + 1 + n_data"),
            "target": "at positions R .. R + n_data - 1 (the separator and the first n_data - 1 copies): the next data token",
            "score": "the n_data positions R .. R + n_data - 1",
            "region": self.region,
            "n_data": self.nd,
            "default_region": self.region,
        }


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------

COMMON_FLA = dict(fuse_cross_entropy=False, fuse_linear_cross_entropy=False, bos_token_id=None,
                  eos_token_id=None, pad_token_id=None, tie_word_embeddings=False)

MODELS = {
    "parity-deltanet-negeig": dict(
        task=lambda: Parity(), family="delta_net", lr=3e-3, batch=256, wd=0.01,
        cfg=dict(hidden_size=64, num_heads=2, num_hidden_layers=1, use_short_conv=True, conv_size=4,
                 allow_neg_eigval=True, attn_mode="fused_recurrent"),
        note="DeltaNet, beta in [0, 2] (allow_neg_eigval): a `1` can reflect the state (eigenvalue -1)"),
    "parity-deltanet": dict(
        task=lambda: Parity(), family="delta_net", lr=3e-3, batch=256, wd=0.01,
        cfg=dict(hidden_size=64, num_heads=2, num_hidden_layers=1, use_short_conv=True, conv_size=4,
                 allow_neg_eigval=False, attn_mode="fused_recurrent"),
        note="DeltaNet, beta in [0, 1]: every transition I - beta k k^T has eigenvalues in [0, 1]"),
    "mqar-deltanet": dict(
        task=lambda: MQAR(), family="delta_net", lr=2e-3, batch=256, wd=0.01,
        cfg=dict(hidden_size=64, num_heads=2, num_hidden_layers=2, use_short_conv=True, conv_size=4,
                 attn_mode="fused_recurrent"),
        note="DeltaNet, 2 layers, 2 heads of K = V = 32, short convolutions"),
    "mqar-gla": dict(
        task=lambda: MQAR(), family="gla", lr=2e-3, batch=256, wd=0.01,
        cfg=dict(hidden_size=64, num_heads=2, num_hidden_layers=2, expand_k=1.0, expand_v=1.0,
                 use_short_conv=True, conv_size=4, attn_mode="fused_recurrent"),
        note="GLA, 2 layers, 2 heads of K = V = 32, short convolutions, vector forget gate"),
    "mqar-linear-attn": dict(
        task=lambda: MQAR(), family="linear_attn", lr=2e-3, batch=256, wd=0.01,
        cfg=dict(hidden_size=64, num_heads=2, num_hidden_layers=2, feature_map="identity",
                 attn={"layers": [0], "num_heads": 2}, attn_mode="fused_recurrent"),
        note=("layer 0 is fla's softmax attention (hybrid `attn` spec), layer 1 linear attention (identity "
              "feature map, 2 heads of K = V = 32): fla's linear_attn layer has no short convolution and no "
              "positions, so on its own it cannot tell which key a value followed; layer 0 does that, and the "
              "recall is layer 1's state")),
    "mqar-linear-attn-pure": dict(
        task=lambda: MQAR(), family="linear_attn", lr=2e-3, batch=256, wd=0.01, ship=False,
        cfg=dict(hidden_size=64, num_heads=2, num_hidden_layers=2, feature_map="identity",
                 attn_mode="fused_recurrent"),
        note="2 layers of linear attention only (identity feature map): a control, not shipped"),
    "s3-deltaproduct": dict(
        task=lambda: S3Composition(), family="gated_deltaproduct", lr=2e-3, batch=256, wd=0.01, bf16=True,
        cfg=dict(hidden_size=128, num_heads=4, head_dim=32, expand_v=1.0, num_hidden_layers=1,
                 num_householder=2, allow_neg_eigval=True, use_forget_gate=False, use_short_conv=True,
                 conv_size=4, use_output_gate=True, attn_mode="chunk"),
        note=("Gated DeltaProduct, 2 Householder steps per token, beta in [0, 2], 1 layer, 4 heads of K = V = 32; "
              "no forget gate (fla's gated chunk backward refuses Triton 3.6 on Hopper, issue 640, and S3 needs none)")),
    "selcopy-mamba": dict(
        task=lambda: SelectiveCopy(), family="mamba", lr=3e-3, batch=256, wd=0.01,
        cfg=dict(hidden_size=64, state_size=16, num_hidden_layers=2, expand=2, conv_kernel=4,
                 use_mambapy=False),
        note="Mamba-1 (transformers MambaForCausalLM, slow_forward), 2 layers, d_model 64, d_inner 128, d_state 16"),
}


def build(name, spec, vocab):
    fam = spec["family"]
    if fam == "mamba":
        from transformers import MambaConfig, MambaForCausalLM
        cfg = MambaConfig(vocab_size=vocab, bos_token_id=None, eos_token_id=None, pad_token_id=None,
                          tie_word_embeddings=True, **spec["cfg"])
        return MambaForCausalLM(cfg)
    import fla.models as fm
    cls = {"delta_net": (fm.DeltaNetConfig, fm.DeltaNetForCausalLM),
           "gla": (fm.GLAConfig, fm.GLAForCausalLM),
           "linear_attn": (fm.LinearAttentionConfig, fm.LinearAttentionForCausalLM),
           "gated_deltaproduct": (fm.GatedDeltaProductConfig, fm.GatedDeltaProductForCausalLM)}[fam]
    cfg = cls[0](vocab_size=vocab, **COMMON_FLA, **spec["cfg"])
    return cls[1](cfg)


# --------------------------------------------------------------------------------------------------
# Tokenizer: a BPE model (the only model type our engine reads) whose vocabulary is the task's
# tokens, each also an added token, with a whitespace Split pre-tokenizer that removes the spaces.
# Decoding without a decoder joins the tokens with spaces, so ids -> "k3 v7" -> ids round-trips.
# --------------------------------------------------------------------------------------------------

def make_tokenizer(tokens):
    vocab = {t: i for i, t in enumerate(tokens)}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": False} for t, i in vocab.items()],
        "normalizer": None,
        "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Removed", "invert": False},
        "post_processor": None, "decoder": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": []},
    }


# --------------------------------------------------------------------------------------------------

def flash_attn_shim():
    """fla's softmax Attention layer calls flash_attn_func, which is not installed on the GPU machine;
    this stand-in computes the same causal attention with torch's scaled_dot_product_attention."""
    d = tempfile.mkdtemp(prefix="fa_shim_")
    os.makedirs(os.path.join(d, "flash_attn"))
    with open(os.path.join(d, "flash_attn", "__init__.py"), "w") as f:
        f.write('''
import torch
import torch.nn.functional as F
__version__ = "0.0-sdpa-shim"
def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, window_size=(-1, -1), **kw):
    assert window_size == (-1, -1) and causal, "shim: causal full attention only"
    if k.shape[2] != q.shape[2]:
        g = q.shape[2] // k.shape[2]
        k, v = k.repeat_interleave(g, dim=2), v.repeat_interleave(g, dim=2)
    o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                       is_causal=True, scale=softmax_scale)
    return o.transpose(1, 2)
def flash_attn_varlen_func(*a, **kw):
    raise NotImplementedError("shim: no varlen attention")
''')
    sys.path.insert(0, d)


def loss_acc(logits, labels):
    V = logits.shape[-1]
    loss = F.cross_entropy(logits.reshape(-1, V).float(), labels.reshape(-1), ignore_index=-100)
    m = labels != -100
    acc = (logits.argmax(-1)[m] == labels[m]).float().mean()
    return loss, acc


@no_grad
def evaluate(model, task, n, gen, batch=250, **kw):
    model.eval()
    correct = total = 0
    last_correct = 0
    for i in range(0, n, batch):
        b = min(batch, n - i)
        ids, labels = task.sample(b, gen, **kw)
        logits = model(input_ids=ids, use_cache=False).logits
        m = labels != -100
        pred = logits.argmax(-1)
        correct += int((pred[m] == labels[m]).sum())
        total += int(m.sum())
        last_correct += int((pred[:, -1] == labels[:, -1]).sum()) if bool(m[:, -1].all()) else 0
    return {"accuracy": correct / total, "scored_positions": total, "samples": n,
            "last_position_accuracy": (last_correct / n) if task.kind in ("running_parity", "s3_composition") else None}


FIRST_EVAL_ONLY = False  # --first-eval-only
TRAIN_SECONDS = None  # --train-seconds: the budget counted from the end of the first (compiling) step


def eval_plan(task):
    if task.kind == "running_parity" or task.kind == "s3_composition":
        return [("length", 64, 2000), ("length", 128, 1000), ("length", 256, 1000)]
    if task.kind == "mqar":
        return [("pairs", p, 1000) for p in (2, 4, 8, 12, 16, 20, 24, 32)]
    if task.kind == "selective_copy":
        return [("region", 48, 2000), ("region", 96, 1000)]
    raise ValueError(task.kind)


@no_grad
def write_reference(model, task, folder, name, spec, gen):
    """The layout of shared/reference: input_ids, logits, hidden.N, logits.tP and state.tP.* (fla)."""
    from safetensors.torch import save_file
    model.eval()
    kw = {"pairs": 12} if task.kind == "mqar" else {}
    ids, _ = task.sample(1, gen, **kw)
    ids = ids[:, :64]
    T = ids.shape[1]
    out = model(input_ids=ids, output_hidden_states=True, use_cache=False)
    tensors = {"input_ids": ids.cpu().to(torch.int64).contiguous(),
               "logits": out.logits[0].float().cpu().contiguous()}
    for i, h in enumerate(out.hidden_states):
        tensors[f"hidden.{i}"] = h[0].float().cpu().contiguous()
    prefixes = sorted({p for p in (1, 5, 16, 33, T) if p <= T})
    notes = []
    for P in prefixes:
        o = model(input_ids=ids[:, :P], use_cache=spec["family"] != "mamba")
        tensors[f"logits.t{P}"] = o.logits[0, -1].float().cpu().contiguous()
        if spec["family"] == "mamba":
            continue
        try:
            cache = o.past_key_values
            for l in range(len(cache)):
                st = cache[l]
                if st.get("recurrent_state") is not None:
                    tensors[f"state.t{P}.L{l}.recurrent_state"] = st["recurrent_state"].float().cpu().contiguous()
                cs = st.get("conv_state")
                if cs is not None and st.get("attn_state") is None:
                    for i, c in enumerate(cs):
                        tensors[f"state.t{P}.L{l}.conv_state.{i}"] = c.float().cpu().contiguous()
        except Exception as e:  # the states are optional; the logits are what verify must match
            notes.append(f"state at t{P} not written: {e!r}")
    save_file(tensors, os.path.join(folder, "reference.safetensors"))
    meta = {"name": name, "library": "transformers" if spec["family"] == "mamba" else "fla",
            "note": spec["note"], "set": "demo", "seq_len": T, "prefixes": prefixes, "weights_dtype": "float32",
            "reference_precision": "float32 on CUDA (tf32 off for torch matmul; fla picks its fused recurrent "
                                   "kernels for <= 64 tokens)",
            "notes": notes, "tensors": {k: list(v.shape) for k, v in tensors.items()}}
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump(meta, f, indent=1)


def train_one(name, out_dir, budget, seed, max_steps):
    spec = MODELS[name]
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(seed)
    dev = "cuda"
    task = spec["task"]()
    model = build(name, spec, len(task.tokens)).to(dev).float()
    nparams = sum(p.numel() for p in model.parameters())
    print(f"[{name}] {spec['family']} params {nparams} vocab {len(task.tokens)}", flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": spec["wd"]}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=spec["lr"], betas=(0.9, 0.98))
    gen = torch.Generator(device=dev).manual_seed(seed)
    warm = 100
    t_start = time.time()
    t0 = None  # after the first step (kernel compilation)
    step = 0
    ema_loss = ema_acc = None
    while step < max_steps:
        if t0 is not None:
            span = TRAIN_SECONDS if TRAIN_SECONDS is not None else budget - (t0 - t_start)
            frac = (time.time() - t0) / max(1.0, span)
            if frac >= 1.0:
                break
        else:
            frac = 0.0
        lr = spec["lr"] * min(1.0, (step + 1) / warm) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        ids, labels = task.sample(spec["batch"], gen)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=spec.get("bf16", False)):
            logits = model(input_ids=ids, use_cache=False).logits
        loss, acc = loss_acc(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if t0 is None:
            torch.cuda.synchronize()
            t0 = time.time()
            print(f"[{name}] first step (compile) {t0 - t_start:.1f} s", flush=True)
        l, a = float(loss.detach()), float(acc)
        ema_loss = l if ema_loss is None else 0.98 * ema_loss + 0.02 * l
        ema_acc = a if ema_acc is None else 0.98 * ema_acc + 0.02 * a
        if step % 200 == 0:
            print(f"[{name}] step {step} t {time.time() - t_start:.0f}s lr {lr:.2e} loss {ema_loss:.4f} "
                  f"acc {ema_acc:.4f}", flush=True)
    train_s = time.time() - t_start
    print(f"[{name}] trained {step} steps in {train_s:.0f} s; final ema loss {ema_loss:.4f} acc {ema_acc:.4f}", flush=True)

    if spec["family"] == "gated_deltaproduct":
        # Evaluation and the reference in float32: fla's fused recurrent kernels at any length (its
        # chunk kernels, used above for training as fla requires, take bfloat16 only).
        for layer in model.model.layers:
            layer.attn.mode = "fused_recurrent"
    # Written before the evaluation, so a run stopped during it keeps the trained model.
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    # fla's models list their tied weights (`_tied_weights_keys = ["lm_head.weight"]`), while
    # transformers 5 expects a dict; nothing is tied here (tie_word_embeddings is false for them).
    if spec["family"] != "mamba":
        for m in model.modules():
            if isinstance(getattr(m, "_tied_weights_keys", None), list):
                m._tied_weights_keys = {}
    try:
        model.save_pretrained(folder)
    except Exception as e:  # the same two files, written directly: nothing here is tied or sharded
        print(f"[{name}] save_pretrained failed ({e!r}); writing config.json and model.safetensors directly",
              flush=True)
        from safetensors.torch import save_file
        model.config.to_json_file(os.path.join(folder, "config.json"))
        save_file({k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()},
                  os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(folder, "tokenizer.json"), "w") as f:
        json.dump(make_tokenizer(task.tokens), f, indent=1, ensure_ascii=False)
    tj = task.task_json()
    tj["token_strings"] = task.tokens
    with open(os.path.join(folder, "task.json"), "w") as f:
        json.dump(tj, f, indent=1)
    rgen = torch.Generator(device=dev).manual_seed(seed + 2000)
    write_reference(model, task, folder, name, spec, rgen)
    egen = torch.Generator(device=dev).manual_seed(seed + 1000)
    evals = []
    for key, val, n in eval_plan(task)[:1 if FIRST_EVAL_ONLY else None]:
        try:
            r = evaluate(model, task, n, egen, **{key: val})
            r[key] = val
            evals.append(r)
            print(f"[{name}] eval {key}={val}: accuracy {r['accuracy']:.4f} over {n} samples "
                  f"({r['scored_positions']} positions)"
                  + (f", last position {r['last_position_accuracy']:.4f}" if r["last_position_accuracy"] is not None else ""),
                  flush=True)
        except Exception as e:
            print(f"[{name}] eval {key}={val} failed: {e!r}", flush=True)
            evals.append({key: val, "error": repr(e)})

    res = {"name": name, "family": spec["family"], "params": nparams, "steps": step, "train_seconds": round(train_s),
           "batch": spec["batch"], "lr": spec["lr"], "seed": seed, "eval_seed": seed + 1000,
           "reference_seed": seed + 2000, "train_seconds_after_compile": TRAIN_SECONDS, "config": spec["cfg"], "note": spec["note"], "evals": evals,
           "torch": torch.__version__, "fla_commit": FLA_COMMIT, "device": torch.cuda.get_device_name()}
    try:
        import transformers
        import triton
        res["transformers"], res["triton"] = transformers.__version__, triton.__version__
    except Exception:
        pass
    with open(os.path.join(folder, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    write_readme(folder)
    print(f"[{name}] written {folder}", flush=True)



TASK_TEXT = {
    "running_parity": "Running parity: the input is a string of `0`/`1`; at every position the model predicts the parity of "
                      "the tokens so far (`0` even, `1` odd). Every position is scored.",
    "mqar": "Multi-query associative recall: `k v k v ...` (P pairs, distinct keys k0..k63, values v0..v63), then the P "
            "keys again in a new order, each followed by its value; scored at each query key (the target is its value).",
    "s3_composition": "Permutation composition in S3: a string of group elements (`e`, `(12)`, `(13)`, `(23)`, `(123)`, "
                      "`(132)`); at every position the model predicts the running product x_t o ... o x_0 "
                      "(task.json has the Cayley table). Every position is scored.",
    "selective_copy": "Selective copying: 8 data tokens `A`..`H` at random places in a region of 48 noise tokens `.`, then "
                      "`|`, then the data tokens in order; scored where the next data token is predicted (the `|` and "
                      "the first 7 copies).",
}


def write_readme(folder):
    """README.md of one model folder from its results.json (no GPU needed)."""
    with open(os.path.join(folder, "results.json")) as f:
        r = json.load(f)
    with open(os.path.join(folder, "task.json")) as f:
        task = json.load(f)
    name = r["name"]
    with open(os.path.join(folder, "reference.json")) as f:
        ref_len = json.load(f)["seq_len"]
    lines = [f"# {name}", "", r["note"] + ".", "", "## Task", "", TASK_TEXT[task["kind"]], "",
             "`task.json` says how to generate a sample, which positions are scored and what their target is.", "",
             "## Measured accuracy (PyTorch, the defining library, on fresh samples)", "",
             "| setting | accuracy | samples | scored positions | last position |", "|---|---|---|---|---|"]
    for e in r["evals"]:
        key = next(k for k in ("length", "pairs", "region") if k in e)
        if "error" in e:
            lines.append(f"| {key} {e[key]} | failed: {e['error']} | | | |")
            continue
        lp = e.get("last_position_accuracy")
        lines.append(f"| {key} {e[key]} | {e['accuracy']:.4f} | {e['samples']} | {e['scored_positions']} | "
                     + (f"{lp:.4f}" if lp is not None else "-") + " |")
    lines += ["", "Accuracy is the fraction of scored positions whose arg-max logit is the target. Evaluation seed "
              f"{r['eval_seed']} (training used seed {r['seed']}).", "",
              "## Recipe", "",
              f"- library: {'transformers ' + r.get('transformers', '?') if r['family'] == 'mamba' else 'flash-linear-attention ' + r['fla_commit'] + ' (transformers ' + r.get('transformers', '?') + ')'}, "
              f"torch {r['torch']}, triton {r.get('triton', '?')}, on {r['device']}",
              f"- config: `{json.dumps(r['config'])}` (all of it in config.json); {r['params']} parameters, float32",
              f"- AdamW (betas 0.9, 0.98, weight decay 0.01 on matrices), peak lr {r['lr']}, 100 warm-up steps, cosine "
              f"over the wall-clock budget, gradient clipping 1.0, batch {r['batch']}, fresh samples every step",
              *((f"- {r['steps']} steps in {r['train_seconds']} s of wall time, {r['train_seconds_after_compile']:.0f} s "
               "of them after Triton's first compilation",
               f"- command: `PYTHONPATH=<dir holding fla/> python3 tools/train_demos.py --out OUT --models {name} "
               f"--train-seconds {r['train_seconds_after_compile']:.0f} --first-eval-only` (the run that made this "
               "folder: docs/train-logs/)") if r.get("train_seconds_after_compile") else
              (f"- {r['steps']} steps in {r['train_seconds']} s of wall time (the budget includes Triton's compilation; "
               "several models trained at once on one GPU)",
               f"- command: `PYTHONPATH=<dir holding fla/> python3 tools/train_demos.py --out OUT --models {name} "
               "--budget SECONDS` (the run that made this folder: docs/train-logs/)")),
              "", "## Files", "",
              "- `config.json`, `model.safetensors`: what `save_pretrained` wrote (float32)",
              "- `tokenizer.json`: one token per task symbol (BPE vocabulary, every token an added token, whitespace "
              "split), so `statescope-cli tokenize --tokenizer tokenizer.json 'TEXT'` and `--decode` round-trip",
              "- `task.json`: the task, for generating and scoring fresh samples",
              f"- `reference.safetensors`, `reference.json`: the library's float32 outputs (TF32 off) on one sample of "
              f"{ref_len} tokens, as in shared/reference; `statescope-cli verify` compares the engine with them",
              "- `results.json`: the numbers above", ""]
    with open(os.path.join(folder, "README.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--budget", type=float, default=300.0, help="wall seconds of training per model, compilation included")
    ap.add_argument("--max-steps", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--parallel", action="store_true", help="one process per model, all at once")
    ap.add_argument("--first-eval-only", action="store_true",
                    help="evaluate at the training size only (each new length compiles fla's kernels anew, minutes "
                         "for Gated DeltaProduct); statescope-cli task measures the other sizes on the engine")
    ap.add_argument("--train-seconds", type=float,
                    help="seconds of training after the first step, whatever its compilation took (Triton's first "
                         "compilation of Gated DeltaProduct varies from 200 to 280 s, which a compile-inclusive "
                         "--budget takes out of training); overrides --budget")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--readme", action="store_true", help="only (re)write README.md of each folder under --out")
    args = ap.parse_args()
    global FIRST_EVAL_ONLY, TRAIN_SECONDS
    FIRST_EVAL_ONLY = args.first_eval_only
    TRAIN_SECONDS = args.train_seconds
    if args.readme:
        for n in sorted(os.listdir(args.out)):
            if os.path.exists(os.path.join(args.out, n, "results.json")):
                write_readme(os.path.join(args.out, n))
        return
    names = [n for n in args.models.split(",") if n]
    for n in names:
        if n not in MODELS:
            sys.exit(f"unknown model {n}; known: {', '.join(MODELS)}")
    if any(MODELS[n]["family"] == "linear_attn" for n in names) or args.one:
        flash_attn_shim()
    os.makedirs(args.out, exist_ok=True)
    if args.one:
        train_one(args.one, args.out, args.budget, args.seed, args.max_steps)
        return
    if not args.parallel:
        for n in names:
            try:
                train_one(n, args.out, args.budget, args.seed, args.max_steps)
            except Exception:
                traceback.print_exc()
        return
    procs = []
    for n in names:
        cmd = [sys.executable, os.path.abspath(__file__), "--out", args.out, "--one", n, "--budget", str(args.budget),
               "--max-steps", str(args.max_steps), "--seed", str(args.seed)] + (["--first-eval-only"] if args.first_eval_only else []) \
            + (["--train-seconds", str(args.train_seconds)] if args.train_seconds is not None else [])
        procs.append((n, subprocess.Popen(cmd)))
    bad = []
    for n, p in procs:
        if p.wait() != 0:
            bad.append(n)
    print("failed: " + (", ".join(bad) if bad else "none"), flush=True)


if __name__ == "__main__":
    main()
