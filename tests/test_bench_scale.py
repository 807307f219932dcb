"""``followup bench scale`` end to end on a tiny base (real embedder, real Chroma, child
processes), and its bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from followup.bench.scale import COLUMNS, CopyCachedEmbedder, parse_multiples
from followup.cli import main
from followup.embedders import Embedder
from followup.errors import UsageError
from tests.conftest import DATASETS

pytestmark = pytest.mark.skipif(not DATASETS.exists(), reason="shared datasets not present")


def _args(tmp_path: Path, *extra: str) -> list[str]:
    return ["bench", "scale", "--base-limit", "3", "--multiples", "1,2",
            "--latency-questions", "2", "--workdir", str(tmp_path / "work"),
            "--medquad", str(DATASETS / "medquad"),
            "--pubmedqa", str(DATASETS / "pubmedqa" / "pqal_dev.json"),
            "--covidqa", str(DATASETS / "covid-qa" / "covidqa_dev.json"), *extra]


@pytest.mark.slow  # about 30 s: four child processes, each loading the model and Chroma
def test_scale_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json, plot = tmp_path / "scale.json", tmp_path / "scale.png"
    code = main(_args(tmp_path, "--json", str(out_json), "--plot", str(plot)))
    printed = capsys.readouterr().out
    assert code == 0
    header = "| " + " | ".join(h for h, _, _ in COLUMNS) + " |"
    assert header in printed and "embed s (est.)" in printed
    rows = json.loads(out_json.read_text())["rows"]
    assert [r["multiple"] for r in rows] == [1, 2]
    one, two = rows
    assert one["articles"] == 9 and two["articles"] == 2 * one["articles"]
    assert two["chunks"] == 2 * one["chunks"]
    # the copies were served from the cache: the same distinct texts embedded at both sizes
    assert two["embedded_chunks"] == one["embedded_chunks"] == one["chunks"]
    assert two["cached_chunks"] == one["chunks"] and two["embed_est_s"] > two["embed_s"]
    assert two["store_mb"] > one["store_mb"] > 0
    for row in rows:
        assert row["asked"] == 2 and 0 < row["ask_p50_ms"] <= row["ask_p95_ms"]
        assert row["ready_s"] > 0 and row["worker_rss_mb"] > 0 and row["refresh_ms"] >= 0
    assert plot.stat().st_size > 0


def test_missing_dataset_is_a_usage_error(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "pqal_dev.json"
    code = main([*_args(tmp_path), "--pubmedqa", str(missing)])
    err = capsys.readouterr().err
    assert code == 2
    assert str(missing) in err and "--pubmedqa" in err


@pytest.mark.parametrize("text", ["", "4,1", "0,2", "1,x", "2,2"])
def test_bad_multiples(text: str) -> None:
    with pytest.raises(UsageError):
        parse_multiples(text)


def test_cache_embeds_each_distinct_text_once(embedder: Embedder) -> None:
    cached = CopyCachedEmbedder(embedder)
    vectors = cached.embed(["PubMed 123 — Abstract\nText.", "PubMed 123-copy2 — Abstract\nText.",
                            "Other text."])
    assert cached.embedded == 2 and cached.cached == 1
    assert vectors[0] == vectors[1] != vectors[2]
    assert cached.estimated_seconds == pytest.approx(cached.seconds * 3 / 2)
