#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) from real files.

    tools/make_fuzz_seeds.py [--cli build/app/statescope-cli] [--shared ../shared]

Seeds are small on purpose (libFuzzer mutates small inputs faster, and the corpus is committed;
all of it stays under 1 MB): the reference checkpoints' real config.json files shrunk to one layer
of width 16 and given weights by `statescope-cli synth`, the bundled demonstration model's files,
cut-down copies of Llama 3's and Mistral's tokenizer.json, the texts of the reference encodings,
and sessions written by `statescope-cli session save` (with a pinned state added through SQLite,
as the CLI cannot pin one). The RWKV world vocabulary is written in the real file's format (ids
1..256 the single bytes, then longer tokens), as no real one is available offline.
Run it from anywhere; it replaces the corpus folders' seed_* files and leaves every other file.
"""
import argparse
import json
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
PART = b"\n--statescope-fuzz-part--\n"  # fuzz_support.h's kPartSeparator

FAMILIES = ["delta_net", "delta_net_negeig", "gated_deltanet", "gated_deltaproduct", "gla", "hgrn2",
            "linear_attn", "llama", "mamba", "mamba2", "retnet", "rwkv7"]


def shrink_config(cfg):
    """One layer of width 16 and a 16-token vocabulary, every other setting as the real file has it."""
    small = dict(cfg)
    small.update(hidden_size=16, num_hidden_layers=1, vocab_size=16)
    for key, value in {"num_heads": 2, "head_dim": 8, "num_attention_heads": 2, "num_key_value_heads": 1,
                       "state_size": 4, "time_step_rank": 2, "expand_ratio": 8, "a_low_rank_dim": 4,
                       "decay_low_rank_dim": 4, "gate_low_rank_dim": 4, "v_low_rank_dim": 4,
                       "intermediate_size": 32, "conv_size": 2, "conv_kernel": 2, "chunk_size": 4}.items():
        if small.get(key) is not None:
            small[key] = value
    if isinstance(cfg.get("value_dim"), list):  # RWKV-7: one value width per layer
        small["value_dim"] = [16]
    if cfg["model_type"] == "mamba2":
        small["num_heads"] = 4  # expand * hidden_size / head_dim
    if cfg["model_type"] == "mamba":
        small["intermediate_size"] = 32  # expand * hidden_size
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        if isinstance(small.get(key), int):
            small[key] = min(small[key], 15)
    return small


def read_safetensors(path):
    data = Path(path).read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def safetensors_bytes(header, payload):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(len(text) + 8) % 8)
    return struct.pack("<Q", len(text)) + text + payload


def shard(model_path, count):
    """The checkpoint split into `count` shards and its index, named as fuzz_checkpoint.cpp writes them."""
    header, payload = read_safetensors(model_path)
    names = [k for k in header if k != "__metadata__"]
    shards, weight_map = [], {}
    for i in range(count):
        file = f"model-0000{i + 1}-of-0000{count}.safetensors"
        mine, chunks, offset = {}, [], 0
        for name in names[i::count]:
            begin, end = header[name]["data_offsets"]
            mine[name] = dict(header[name], data_offsets=[offset, offset + end - begin])
            chunks.append(payload[begin:end])
            offset += end - begin
            weight_map[name] = file
        shards.append(safetensors_bytes(mine, b"".join(chunks)))
    index = json.dumps({"metadata": {"total_size": len(payload)}, "weight_map": weight_map}, indent=2).encode()
    return index, shards


def trim_tokenizer(path, keep):
    """A real tokenizer.json with its vocabulary cut to the first `keep` ids and the merges among them."""
    tok = json.loads(Path(path).read_text())
    model = tok["model"]
    vocab = {t: i for t, i in model["vocab"].items() if i < keep}
    merges = []
    for m in model.get("merges", []):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(m)
    model["vocab"], model["merges"] = vocab, merges
    tok["added_tokens"] = tok.get("added_tokens", [])[:8]
    return json.dumps(tok, ensure_ascii=False).encode()


def rwkv_vocab(words):
    """A vocabulary in rwkv_vocab_v20230424.txt's format: `ID repr(token) BYTE_LENGTH` per line."""
    lines, next_id = [], 1
    for b in range(256):
        token = bytes([b])
        try:
            literal = repr(token.decode("utf-8"))
        except UnicodeDecodeError:
            literal = repr(token)
        lines.append(f"{next_id} {literal} {len(token)}")
        next_id += 1
    for w in words:
        lines.append(f"{next_id} {w!r} {len(w.encode())}")
        next_id += 1
    lines.append(f"{next_id} {'é'.encode()[:1] + b'x'!r} 2")  # a bytes literal that is not UTF-8
    return ("\n".join(lines) + "\n").encode()


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed_{name}").write_bytes(data)


def run(cli, *args):
    subprocess.run([str(cli), *map(str, args)], check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", default=ROOT / "build" / "app" / "statescope-cli")
    ap.add_argument("--shared", default=ROOT.parent / "shared")
    args = ap.parse_args()
    shared = Path(args.shared) / "reference"
    for folder in CORPUS.glob("*"):
        for old in folder.glob("seed_*"):
            old.unlink()
    tmp = Path(tempfile.mkdtemp(prefix="statescope-seeds-"))
    demo = ROOT / "assets" / "models" / "mqar-deltanet"

    # Checkpoint folders (and their configs and weights for the JSON and safetensors targets).
    dtypes = ["f16", "bf16", "f32"]
    for i, family in enumerate(FAMILIES):
        cfg = shrink_config(json.loads((shared / "models" / family / "config.json").read_text()))
        config_text = json.dumps(cfg, indent=2).encode()
        (tmp / f"{family}.json").write_bytes(config_text)
        out = tmp / family
        run(args.cli, "synth", tmp / f"{family}.json", out, "--dtype", dtypes[i % 3], "--seed", i + 1)
        run(args.cli, "info", out)  # the seed must load, or it seeds nothing past the loader
        weights = (out / "model.safetensors").read_bytes()
        write("checkpoint", family, config_text + PART + PART + weights)
        write("json", f"config_{family}", config_text)
        if i % 4 == 0:
            write("safetensors", family, weights)
    index, shards = shard(tmp / "gla" / "model.safetensors", 3)
    write("checkpoint", "gla_sharded", (tmp / "gla" / "config.json").read_bytes() + PART + index + PART + PART.join(shards))
    write("json", "index", index)
    run(args.cli, "run", tmp / "gla", "--tokens", "1,2,3", "--dump", tmp / "dump.safetensors")
    write("safetensors", "dump_with_i64_ids", (tmp / "dump.safetensors").read_bytes())
    for name in ("config.json", "task.json", "results.json", "generation_config.json"):
        write("json", f"demo_{name}", (demo / name).read_bytes())

    # Tokenizers.
    llama3 = trim_tokenizer(shared / "tokenizers" / "llama-3.tokenizer.json", 600)
    mistral = trim_tokenizer(shared / "tokenizers" / "mistral-7b.tokenizer.json", 600)
    mistral_config = (shared / "tokenizers" / "mistral-7b.tokenizer_config.json").read_bytes()
    demo_tokenizer = (demo / "tokenizer.json").read_bytes()
    write("tokenizer_load", "llama3_trimmed", llama3)
    write("tokenizer_load", "mistral_trimmed_with_config", mistral + PART + mistral_config)
    write("tokenizer_load", "demo", demo_tokenizer)
    write("json", "tokenizer_mistral_config", mistral_config)
    cases = json.loads((shared / "tokenizers" / "encodings.json").read_text())["cases"]
    texts = sorted({c["text"] for group in cases.values() for c in group if c["text"]}, key=len)[:40]
    texts.append((ROOT / "data" / "prompts" / "default.txt").read_text()[:2000])
    # fuzz_tokenizer_encode.cpp: low nibble picks the tokenizer (0 demo, 1 Llama 3, 2 Mistral),
    # high nibble the operation (0 encode, 1 encode with special tokens, 2 decode ids).
    for i, text in enumerate(texts):
        write("tokenizer_encode", f"text{i:02d}", bytes([(i % 3) | ((i // 3 % 2) << 4)]) + text.encode())
    for i, c in enumerate(cases["llama3"][:6]):
        write("tokenizer_encode", f"llama3_ids{i}", bytes([0x21]) + struct.pack(f"<{len(c['ids'])}i", *c["ids"]))
    for i, c in enumerate(cases["llama2"][:6]):
        write("tokenizer_encode", f"mistral_ids{i}", bytes([0x22]) + struct.pack(f"<{len(c['ids'])}i", *c["ids"]))

    words = ["the", "the ", " of", "ing", "tion", "State", "scope", "é", "你好", "\n\n", "\t"]
    vocab = rwkv_vocab(words)
    write("rwkv_vocab", "world_format", vocab + PART + "the State of things é你好\n\n\tscope".encode())
    write("rwkv_vocab", "crlf", vocab.replace(b"\n", b"\r\n") + PART + b"ab\x80c")

    # Sessions, in small pages so that a file is a few kB.
    for i, family in enumerate(["gla", "mamba"]):
        path = tmp / f"{family}.statescope"
        run(args.cli, "session", "save", tmp / family, "--tokens", "1,2,3,4", "--out", path, "--token", "2",
            "--bookmark", "first:1", "--bookmark", "last:3:0:1", "--note", "first=**bold** note", "--lesson", "intro")
        db = sqlite3.connect(path)
        if i == 0:
            values = struct.pack("<8f", *[0.5 * k for k in range(8)])
            db.execute("INSERT INTO pinned_states (name, layer, token, shape, dtype, data, data_hash)"
                       " VALUES ('pin', 0, 2, '2,2,2', 'F32', ?, '0')", (values,))
            db.execute("INSERT INTO annotations (token, text) VALUES (1, 'an annotation')")
        db.commit()
        db.execute("PRAGMA page_size = 512")
        db.execute("VACUUM")
        db.close()
        write("session", family, path.read_bytes())

    total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
    print(f"wrote seeds into {CORPUS} ({total} bytes in all)")
    if total >= 1 << 20:
        sys.exit(f"the corpus is {total} bytes, over the 1 MB it may take")


if __name__ == "__main__":
    main()
