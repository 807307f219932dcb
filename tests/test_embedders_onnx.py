"""The onnxruntime embedder (minilm-onnx, the default): the same vectors as torch, a checked
cache, its own id.

Real model throughout: the shipped MiniLM weights are exported once per session into a tmp cache
folder; the corruption tests copy that export and damage the copy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from followup.embedders import (
    MINILM_INT8_ID,
    MINILM_ONNX_ID,
    Embedder,
    OnnxEmbedder,
    _plan_batches,
    describe_embedder,
    ensure_onnx_export,
    get_embedder,
    onnx_export_dir,
)
from followup.errors import FingerprintMismatchError, UsageError
from followup.settings import Settings
from followup.store import fingerprint, open_store

TEXTS = [
    "Can clopidogrel be given with omeprazole?",
    "ACE inhibitors cause a dry cough in up to 15% of patients; angioedema is rarer but can be "
    "life-threatening and needs the drug stopped for good.",
    "Baclofen withdrawal",
    "Acetaminophen: the maximum daily dose for adults is 4 g, lower (2-3 g) in chronic alcohol "
    "use, malnutrition or liver disease, because glutathione stores are depleted.",
    "",
    # longer than the model's 256 tokens: truncated the same way by both runtimes
    " ".join(["Benzodiazepines are tapered slowly, by 10 to 25 percent every two weeks."] * 30),
]


@pytest.fixture(scope="session")
def onnx_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(cache_dir=tmp_path_factory.mktemp("cache"), embedder="minilm-onnx",
                        progress=False)
    ensure_onnx_export(settings)  # the one export of the session
    return settings


@pytest.fixture(scope="session")
def onnx_embedder(onnx_settings: Settings) -> Embedder:
    return get_embedder(onnx_settings)


@pytest.fixture(scope="session")
def torch_embedder() -> Embedder:
    return get_embedder(Settings(embedder="minilm-torch"))


def _cosines(a: list[list[float]], b: list[list[float]]) -> np.ndarray:
    x, y = np.asarray(a), np.asarray(b)
    return (x * y).sum(axis=1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))


def test_onnx_vectors_match_torch(onnx_embedder: Embedder, torch_embedder: Embedder) -> None:
    assert torch_embedder.id == "all-MiniLM-L6-v2"
    cos = _cosines(onnx_embedder.embed(TEXTS), torch_embedder.embed(TEXTS))
    assert cos.mean() >= 0.995
    assert cos.min() >= 0.999, cos  # fp32 both ways: equal to float precision
    got = np.asarray(onnx_embedder.embed(TEXTS[:1]))
    assert got.shape == (1, 384)
    assert np.linalg.norm(got) == pytest.approx(1.0, abs=1e-5)


def test_large_call_uses_workers_and_keeps_order(onnx_embedder: Embedder,
                                                 torch_embedder: Embedder) -> None:
    texts = [f"{t} ({i})" for i, t in enumerate(TEXTS * 5)]  # 30 texts: the worker pool's path
    cos = _cosines(onnx_embedder.embed(texts), torch_embedder.embed(texts))
    assert cos.min() >= 0.999


def test_int8_variant_stays_close_to_torch(onnx_settings: Settings,
                                           torch_embedder: Embedder) -> None:
    int8 = get_embedder(onnx_settings.model_copy(update={"embedder": "minilm-onnx-int8"}))
    assert int8.id == MINILM_INT8_ID
    texts = [t for t in TEXTS if t]  # "" alone ([CLS] [SEP]) is the worst case: about 0.977
    cos = _cosines(int8.embed(texts), torch_embedder.embed(texts))
    assert cos.mean() >= 0.995, cos
    assert cos.min() >= 0.99, cos
    assert int8.embed([]) == []


def test_empty_input(onnx_embedder: Embedder) -> None:
    assert onnx_embedder.embed([]) == []


@pytest.mark.parametrize("runtime", ["onnx_embedder", "embedder"])
def test_concurrent_calls_give_the_same_vectors(runtime: str,
                                                request: pytest.FixtureRequest) -> None:
    """The chat embeds from several threads at once: both runtimes give the vectors of a lone
    call (torch's small-call path once raced its tokenizer against encode() in another thread:
    rows of the wrong lengths, a ValueError)."""
    model: Embedder = request.getfixturevalue(runtime)
    few, many = TEXTS[:3], [f"{t} ({i})" for i, t in enumerate(TEXTS[:5] * 4)]  # 20: batches
    want_few, want_many = model.embed(few), model.embed(many)
    results: list[tuple[list[list[float]], list[list[float]]]] = []
    errors: list[BaseException] = []

    def work(texts: list[str], want: list[list[float]], calls: int) -> None:
        try:
            for _ in range(calls):
                results.append((model.embed(texts), want))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(few, want_few, 40)) for _ in range(3)]
    threads.append(threading.Thread(target=work, args=(many, want_many, 5)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 125
    for got, want in results:
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_ids_name_the_runtime(onnx_settings: Settings, onnx_embedder: Embedder,
                              torch_embedder: Embedder) -> None:
    torch_settings = onnx_settings.model_copy(update={"embedder": "minilm-torch"})
    alias_settings = onnx_settings.model_copy(update={"embedder": "minilm"})
    assert describe_embedder(torch_settings) == ("all-MiniLM-L6-v2", 384)
    assert describe_embedder(alias_settings) == describe_embedder(torch_settings)
    assert describe_embedder(onnx_settings) == (MINILM_ONNX_ID, 384)
    int8_settings = onnx_settings.model_copy(update={"embedder": "minilm-onnx-int8"})
    assert describe_embedder(int8_settings) == (MINILM_INT8_ID, 384)
    assert len({fingerprint(s) for s in (onnx_settings, torch_settings, int8_settings)}) == 3
    assert onnx_embedder.id == MINILM_ONNX_ID != torch_embedder.id
    assert get_embedder(torch_settings).id == torch_embedder.id
    assert fingerprint(onnx_settings) != fingerprint(torch_settings)
    with pytest.raises(UsageError, match="minilm-onnx"):
        describe_embedder(onnx_settings.model_copy(update={"embedder": "minilm-gpu"}))


def test_a_store_built_by_one_runtime_refuses_the_other(onnx_settings: Settings,
                                                        tmp_path: Path) -> None:
    torch_settings = onnx_settings.model_copy(
        update={"embedder": "minilm-torch", "store_dir": tmp_path / "store"})
    open_store(torch_settings, create=True)
    with pytest.raises(FingerprintMismatchError, match=r"onnx-fp32"):
        open_store(torch_settings.model_copy(update={"embedder": "minilm-onnx"}))


def _truncate(folder: Path) -> None:
    model = folder / "model.onnx"
    data = model.read_bytes()
    model.write_bytes(data[: len(data) // 2])


def _flip_bytes(folder: Path) -> None:
    model = folder / "model.onnx"
    data = bytearray(model.read_bytes())
    for offset in (len(data) // 3, len(data) // 2, len(data) - 100):
        data[offset] ^= 0xFF
    model.write_bytes(bytes(data))


def _break_manifest(folder: Path) -> None:
    (folder / "manifest.json").write_text('{"recipe": 1, "files": {', encoding="utf-8")


@pytest.mark.parametrize(("damage", "reported"), [
    (_truncate, "bytes, the manifest says"),
    (_flip_bytes, "fails its checksum"),
    (_break_manifest, "manifest.json is unreadable"),
])
def test_a_damaged_export_is_detected_and_rebuilt(
        damage: Callable[[Path], None], reported: str, onnx_settings: Settings,
        onnx_embedder: Embedder, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = onnx_settings.model_copy(update={"cache_dir": tmp_path / "cache"})
    folder = onnx_export_dir(settings)
    shutil.copytree(onnx_export_dir(onnx_settings), folder)
    damage(folder)

    with caplog.at_level(logging.WARNING, logger="followup.embedders"):
        rebuilt = get_embedder(settings)
    messages = [r.getMessage() for r in caplog.records if r.name == "followup.embedders"]
    assert any(reported in m and "rebuilding" in m for m in messages), messages

    # the file on disk is whole again and matches its new manifest
    model = folder / "model.onnx"
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    assert hashlib.sha256(model.read_bytes()).hexdigest() == (
        manifest["files"]["model.onnx"]["sha256"])
    assert model.stat().st_size == manifest["files"]["model.onnx"]["bytes"]
    assert not list(folder.glob("*.tmp"))
    # ...and it works: the same vectors as the export it replaces
    assert isinstance(rebuilt, OnnxEmbedder)
    np.testing.assert_allclose(rebuilt.embed(TEXTS), onnx_embedder.embed(TEXTS), atol=1e-5)
    # a second load finds it whole: no warning, no export
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="followup.embedders"):
        assert ensure_onnx_export(settings) == model
    assert not [r for r in caplog.records if r.name == "followup.embedders"]


def test_batch_plan_keeps_every_text_once_and_bounds_padding() -> None:
    lengths = [5, 256, 12, 12, 7, 130, 40, 41, 3, 256, 9] * 7
    groups = _plan_batches(lengths, fixed_cost=16, max_rows=64, max_tokens=512)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    for g in groups:
        assert len(g) == 1 or len(g) * max(lengths[i] for i in g) <= 512
    assert _plan_batches([], 16, 64, 512) == []


def test_token_lengths_are_the_model_s(onnx_embedder: Embedder) -> None:
    """What bench ingest counts as embedded tokens: truncated at max_seq_length, no padding."""
    assert isinstance(onnx_embedder, OnnxEmbedder)
    lengths = onnx_embedder.token_lengths(TEXTS)
    assert lengths[4] == 2  # "": [CLS] [SEP]
    assert max(lengths) == lengths[5] == onnx_embedder.max_seq_length == 256  # truncated
    assert onnx_embedder.token_lengths([]) == []


def test_kernel_rate_is_measured_on_every_worker(onnx_embedder: Embedder) -> None:
    assert isinstance(onnx_embedder, OnnxEmbedder)
    rate = onnx_embedder.kernel_tokens_per_second(rows=1, width=16, seconds=0.2)
    assert rate > 0
