"""Embedding runtimes side by side, in one run: texts/s, cosine to torch fp32, query latency.

    .venv/bin/python scripts/embed_bench.py [--rounds 3] [--max-abstracts 1000]

Texts: the paragraphs of corpus/*.md and up to --max-abstracts PubMedQA abstracts read from
../shared/datasets (its README; nothing is copied). Runtimes: minilm-torch (the current
SentenceTransformerEmbedder, settings as shipped), minilm-onnx (fp32) and minilm-onnx-int8;
also torch with batches of 16, to show how much of the gain is only less padding.

Throughput: every runtime in turn on each slice of --slice texts, for --rounds rounds, so that
other work on a shared machine weighs on all alike (the load average and CPU seconds are printed
too). Vectors (each set embedded in ingest's calls of chunks_per_write texts) are compared row
by row with torch fp32; PubMedQA questions retrieve their abstracts with each runtime.
Query latency: one sentence, one call at a time, the threads the chat uses (torch:
query_threads; onnx: onnx_intra_threads). The ONNX graphs are built in a fresh temporary cache
folder, so the export time is measured too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import followup  # noqa: E402, F401  (offline switches first)
from followup.embedders import Embedder, get_embedder  # noqa: E402
from followup.settings import Settings  # noqa: E402

QUERY = "Can clopidogrel be given together with omeprazole?"


def corpus_paragraphs(folder: Path) -> list[str]:
    texts: list[str] = []
    for path in sorted(folder.glob("*.md")):
        if path.name == "README.md":
            continue
        for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            block = " ".join(block.split())
            if block:
                texts.append(block)
    return texts


def pubmedqa(datasets: Path, limit: int) -> tuple[list[str], list[str]]:
    """(abstracts, their questions), in the same order."""
    path = datasets / "pubmedqa" / "pqal_dev.json"
    if not path.is_file() or limit <= 0:
        return [], []
    records = list(json.loads(path.read_text(encoding="utf-8")).values())[:limit]
    return [" ".join(r["CONTEXTS"]) for r in records], [r["QUESTION"] for r in records]


def embed_all(model: Embedder, texts: list[str], per_call: int) -> np.ndarray:
    out: list[list[float]] = []
    for start in range(0, len(texts), per_call):
        out.extend(model.embed(texts[start:start + per_call]))
    return np.asarray(out, dtype=np.float64)


def set_torch_threads(n: int | None) -> None:
    import torch

    torch.set_num_threads(n or os.cpu_count() or 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--datasets", type=Path,
                        default=Path(os.environ.get("FOLLOWUP_SHARED", ROOT.parent / "shared"))
                        / "datasets")
    parser.add_argument("--max-abstracts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slice", type=int, default=128, help="texts per timed call")
    parser.add_argument("--one-core", action="store_true",
                        help="every runtime on one thread (torch threads 1, one onnx worker)")
    parser.add_argument("--queries", type=int, default=200, help="timed single-query calls")
    parser.add_argument("--no-int8", action="store_true")
    args = parser.parse_args()

    abstracts, questions = pubmedqa(args.datasets, args.max_abstracts)
    sets = {"corpus paragraphs": corpus_paragraphs(args.corpus),
            "PubMedQA abstracts": abstracts}
    sets = {k: v for k, v in sets.items() if v}
    cache = Path(tempfile.mkdtemp(prefix="embed-bench-"))
    try:
        return run(args, sets, questions, cache)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def run(args: argparse.Namespace, sets: dict[str, list[str]], questions: list[str],
        cache: Path) -> int:
    base = Settings(cache_dir=cache, progress=False)
    if args.one_core:
        base = base.model_copy(update={"torch_threads": 1, "onnx_batch_workers": 1})
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    for name, texts in sets.items():
        print(f"  {name}: {len(texts)} texts")

    runtimes: dict[str, Settings] = {
        "torch fp32 (minilm-torch)": base.model_copy(update={"embedder": "minilm-torch"}),
        "torch fp32, batches of 16": base.model_copy(update={"embedder": "minilm-torch",
                                                             "embed_batch_size": 16}),
        "onnx fp32 (minilm-onnx)": base.model_copy(update={"embedder": "minilm-onnx"}),
    }
    if not args.no_int8:
        runtimes["onnx int8 (minilm-onnx-int8)"] = base.model_copy(
            update={"embedder": "minilm-onnx-int8"})
    models: dict[str, Embedder] = {}
    for label, settings in runtimes.items():
        started = time.perf_counter()
        models[label] = get_embedder(settings)
        seconds = time.perf_counter() - started
        note = " (export of the fp32 graph included)" if label.startswith("onnx fp32") else ""
        note = " (quantization of the fp32 graph included)" if "int8" in label else note
        print(f"load {label}: {seconds:.1f} s{note}")
    for variant in ("fp32", "int8dyn"):
        manifest = cache / "onnx" / f"all-MiniLM-L6-v2-{variant}" / "manifest.json"
        if manifest.is_file():
            built = json.loads(manifest.read_text(encoding="utf-8"))
            print(f"  {variant} graph: {built['files']['model.onnx']['bytes'] / 1e6:.1f} MB, "
                  f"built in {built['build_seconds']} s")
    started = time.perf_counter()
    get_embedder(base.model_copy(update={"embedder": "minilm-onnx",
                                         "onnx_batch_workers": 1}))  # a second session
    print(f"load minilm-onnx from the checked cache (sha256 + session): "
          f"{time.perf_counter() - started:.2f} s")

    counter = next((m for m in models.values() if hasattr(m, "token_lengths")), None)
    tokens = {name: sum(counter.token_lengths(texts)) if counter else 0
              for name, texts in sets.items()}
    reference_label = next(iter(runtimes))
    per_call = base.chunks_per_write
    # the vectors compared: each set whole, in ingest's calls of chunks_per_write texts
    vectors = {(name, label): embed_all(models[label], texts, per_call)
               for name, texts in sets.items() for label in runtimes}
    # the timing: slices of --slice texts, every runtime in turn on each slice (the order
    # rotating), so that other work on the machine weighs on every runtime alike
    labels = list(runtimes)
    spent: dict[tuple[str, str], list[list[float]]] = {}  # [wall, cpu] per round
    for name, texts in sets.items():
        slices = [texts[i:i + args.slice] for i in range(0, len(texts), args.slice)]
        turn = 0
        for r in range(args.rounds):
            for part in slices:
                turn += 1
                for label in labels[turn % len(labels):] + labels[:turn % len(labels)]:
                    set_torch_threads(runtimes[label].torch_threads)  # as ingest: all cores
                    wall, cpu = time.perf_counter(), time.process_time()
                    models[label].embed(part)
                    row = spent.setdefault((name, label), [])
                    if len(row) <= r:
                        row.append([0.0, 0.0])
                    row[r][0] += time.perf_counter() - wall
                    row[r][1] += time.process_time() - cpu
    load_end = os.getloadavg()[0]

    print(f"\nthroughput over {args.rounds} rounds (each round in brackets), slices of "
          f"{args.slice} texts interleaved; cosine to {reference_label}:")
    for name, texts in sets.items():
        print(f"  {name} ({tokens[name]:,} tokens):")
        ref = vectors[(name, reference_label)]
        base_rate = 0.0
        for label in runtimes:
            rounds = spent[(name, label)]
            rate = len(texts) * len(rounds) / sum(w for w, _ in rounds)
            base_rate = base_rate or rate
            cpu_ms = 1000 * sum(c for _, c in rounds) / (len(texts) * len(rounds))
            each = ", ".join(f"{len(texts) / w:.0f}" for w, _ in rounds)
            got = vectors[(name, label)]
            cos = (got * ref).sum(axis=1) / (np.linalg.norm(got, axis=1)
                                             * np.linalg.norm(ref, axis=1))
            print(f"    {label:30s} {rate:7.1f} texts/s (x{rate / base_rate:.2f}) [{each}]  "
                  f"{rate * tokens[name] / len(texts):7.0f} tokens/s  "
                  f"{cpu_ms:5.1f} CPU ms/text  cosine mean {cos.mean():.5f} min {cos.min():.5f}")

    if questions:
        print(f"\nretrieval: each of the {len(questions)} PubMedQA questions against the "
              f"{len(questions)} abstracts (its own is the answer):")
        for label in runtimes:
            q = embed_all(models[label], questions, per_call)
            docs = vectors[("PubMedQA abstracts", label)]
            scores = q @ docs.T
            rank = (scores > scores[np.arange(len(q)), np.arange(len(q))][:, None]).sum(axis=1)
            print(f"    {label:30s} hit@1 {np.mean(rank < 1):.3f}  hit@5 {np.mean(rank < 5):.3f}"
                  f"  MRR {np.mean(1 / (rank + 1)):.4f}")

    print(f"\nsingle query, one sentence ({len(QUERY)} chars), {args.queries} calls, "
          "one at a time:")
    for label, settings in runtimes.items():
        if "batches of 16" in label:
            continue  # one text: the same as the torch row
        set_torch_threads(settings.query_threads)  # what Engine sets for answering
        model = models[label]
        for _ in range(10):
            model.embed([QUERY])
        times: list[float] = []
        for _ in range(args.queries):
            started = time.perf_counter()
            model.embed([QUERY])
            times.append(time.perf_counter() - started)
        times.sort()
        threads = (f"torch threads {settings.query_threads}" if "torch" in label
                   else f"onnx intra threads {settings.onnx_intra_threads}")
        print(f"    {label:30s} p50 {statistics.median(times) * 1000:6.2f} ms  "
              f"p90 {times[int(len(times) * 0.9)] * 1000:6.2f} ms  ({threads})")
    onnx = models.get("onnx fp32 (minilm-onnx)")
    if onnx is not None and hasattr(onnx, "kernel_tokens_per_second"):
        print(f"\nthe fp32 graph alone (2 x 224 unpadded passes on every worker at once): "
              f"{onnx.kernel_tokens_per_second():,.0f} tokens/s")
    print(f"\nload average {load_end:.2f} at the end of the throughput rounds "
          f"(over {os.cpu_count()} cores: other work on the machine slows every row alike)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
