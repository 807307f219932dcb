"""The command line: JSON contracts, exit codes, and every bad input of the ingest issue."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from followup.cli import main
from tests.conftest import CORPUS, ROOT, SEED


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def messy(tmp_path: Path) -> Path:
    """Two good articles and one of every kind of bad input."""
    d = tmp_path / "messy"
    d.mkdir()
    for name in ("baclofen-withdrawal", "serotonin-syndrome"):
        shutil.copy(CORPUS / f"{name}.md", d)
    (d / "empty.md").write_text("", encoding="utf-8")
    (d / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    (d / "latin1.md").write_bytes("# Caf\xe9 question?\n\nAnswer 1\n".encode("latin-1"))
    (d / "no-title.md").write_text("Some text without a title line 1\n\n- bullet 2\n",
                                   encoding="utf-8")
    (d / "cites-no-refs.md").write_text("# Q?\n\nAnswer 1\n\n## S\n\n- Claim 2\n",
                                        encoding="utf-8")
    (d / "refs-no-cites.md").write_text("# Q2?\n\nAn answer.\n\n## References\n\n1. A. B, 2001.\n",
                                        encoding="utf-8")
    (d / "huge.md").write_bytes(b"# Big?\n\n" + b"word " * (4 * 1024 * 1024))  # 20 MB
    dup = (CORPUS / "baclofen-withdrawal.md").read_text(encoding="utf-8")
    (d / "zz-duplicate.md").write_text(dup, encoding="utf-8")
    (d / "paper.pdf").write_bytes(b"%PDF-1.7\n%binary")
    return d


def test_every_bad_input_is_reported_and_the_rest_ingests(
    messy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], embedder: object
) -> None:
    code, out, _ = _run(capsys, "ingest", str(messy), "--store", str(tmp_path / "s"), "--json")
    assert code == 1
    report = json.loads(out)
    failed = {Path(f["path"]).name: f["reason"] for f in report["failed"]}
    assert "empty" in failed["empty.md"]
    assert "binary" in failed["binary.md"]
    assert "UTF-8" in failed["latin1.md"]
    assert "no title" in failed["no-title.md"]
    assert "MB" in failed["huge.md"] and "limit" in failed["huge.md"]
    assert "duplicate article id 'baclofen-withdrawal'" in failed["zz-duplicate.md"]
    assert "unknown format" in failed["paper.pdf"] or "binary" in failed["paper.pdf"]
    warned = {Path(w["path"]).name: w["reason"] for w in report["warnings"]}
    assert "no reference list" in warned["cites-no-refs.md"]
    assert "no sentence cites" in warned["refs-no-cites.md"]
    # the good articles and the two that only warn are in
    assert report["added"] == 4 and report["articles"] == 4
    # the text summary names each failure with its path
    code, text, _ = _run(capsys, "ingest", str(messy), "--store", str(tmp_path / "s"))
    assert code == 1 and "Failed" in text and "huge.md" in text and "4 unchanged" in text


def test_json_contracts(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                        embedder: object) -> None:
    store = str(tmp_path / "s")
    folder = tmp_path / "c"
    folder.mkdir()
    shutil.copy(CORPUS / "withdrawal-muscle-spasms.md", folder)
    code, out, _ = _run(capsys, "ingest", str(folder), "--store", store, "--json")
    assert code == 0
    rep = json.loads(out)
    assert {"added", "updated", "unchanged", "removed", "failed", "articles", "chunks",
            "seconds"} <= set(rep)
    assert rep["added"] == 1 and rep["failed"] == []
    code, out, _ = _run(capsys, "status", "--store", store, "--json")
    st = json.loads(out)
    assert code == 0 and set(st) >= {"store", "fingerprint", "articles", "chunks"}
    assert st["articles"] == 1 and st["chunks"] == rep["chunks"]
    assert "all-MiniLM-L6-v2" in st["fingerprint"]


def test_inspect_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "inspect", str(SEED), "--json")
    assert code == 0
    doc = json.loads(out)
    art = doc["article"]
    assert {"id", "title", "updated", "review_status", "references"} <= set(art)
    assert art["references"]["5"].startswith("Alcohol withdrawal tremor")
    assert art["references"]["1"] is None
    assert doc["chunks"] and {"id", "section", "text", "citations"} <= set(doc["chunks"][0])
    code, text, _ = _run(capsys, "inspect", str(SEED))
    assert code == 0 and "chunks" in text


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "ingest", str(tmp_path / "nope"), "--store", str(tmp_path))
    assert code == 2 and "no such file" in err
    with pytest.raises(SystemExit) as info:
        main(["ingest", "--format", "docx"])
    assert info.value.code == 2


def test_ask_bad_history_file_and_missing_store(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    """A history file that is not UTF-8 is a usage error (it was a traceback); asking a store
    that does not exist says to ingest and leaves no empty store behind."""
    binary = tmp_path / "history.json"
    binary.write_bytes(b"\xff\xfe[]")
    code, _, err = _run(capsys, "ask", "What about baclofen?", "--history", str(binary),
                        "--store", str(tmp_path / "none"))
    assert code == 2 and "not UTF-8" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _run(capsys, "ask", "Can withdrawal cause spasms?", "--store", str(empty))
    assert code == 1 and "followup ingest" in err
    assert list(empty.iterdir()) == []


def test_status_without_store_says_what_to_do(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    code, _, err = _run(capsys, "status", "--store", str(tmp_path / "none"))
    assert code == 1 and "followup ingest" in err and err[-1] == "\n" and err.count("\n") == 1


def test_python_ingest_py_is_followup_ingest(tmp_path: Path) -> None:
    a = subprocess.run([sys.executable, "ingest.py", "--help"], cwd=ROOT, capture_output=True,
                       text=True, check=True)
    b = subprocess.run([sys.executable, "-m", "followup.cli", "ingest", "--help"], cwd=ROOT,
                       capture_output=True, text=True, check=True)
    assert a.stdout == b.stdout and "--rebuild" in a.stdout
    c = subprocess.run([sys.executable, "ingest.py", str(tmp_path / "missing")], cwd=ROOT,
                       capture_output=True, text=True)
    assert c.returncode == 2 and "no such file" in c.stderr


def test_bench_chat_without_an_index_says_so_before_launching(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No chat and no browser are started for a store that cannot serve: the store's own
    message (run ingest), at once."""
    code, _, err = _run(capsys, "bench", "chat", "--store", str(tmp_path / "none"))
    assert code == 1  # a store error (2 is for usage)
    assert "no index" in err and "followup ingest" in err


def test_readme_lists_every_setting_with_its_default() -> None:
    from followup.settings import settings_table

    assert settings_table() in (ROOT / "README.md").read_text(encoding="utf-8"), (
        "README's settings table is out of date: paste followup.settings.settings_table()")
