"""The one settings object. Built once at the entry point (CLI, chat, evals) and passed down.

Every field can be set from the environment with the prefix ``FOLLOWUP_`` (for example
``FOLLOWUP_CHROMA_URL=http://127.0.0.1:8000``); command-line flags override the environment.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from followup.errors import UsageError


class Settings(BaseSettings):
    """Settings of the whole product, read from ``FOLLOWUP_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="FOLLOWUP_", extra="ignore")

    store_dir: Path = Field(
        default=Path(".followup/store"),
        description="Folder of the embedded Chroma store (used when chroma_url is not set).",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000); overrides store_dir.",
    )
    eval_dir: Path = Field(
        default=Path(".followup/eval"),
        description="Where followup eval keeps the stores of suites' corpora (a cache).",
    )
    collection: str = Field(
        default="followup",
        min_length=3,
        max_length=60,
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]$",
        description="Chroma collection name.",
    )
    embedder: str = Field(
        default="minilm-onnx",
        description="Embedding model id, resolved by followup.embedders: minilm-onnx (the "
        "shipped all-MiniLM-L6-v2 exported to an fp32 ONNX graph, run by onnxruntime; the same "
        "vectors as torch, about 1.6-3x faster here), minilm-torch (sentence-transformers on "
        "torch; 'minilm' is its older name) or minilm-onnx-int8.",
    )
    ingest_wait_s: float = Field(
        default=600.0, ge=0.0,
        description="How long an ingest waits for another ingest into the same store (the "
        "writer lock) before it stops with an error; nothing is written meanwhile.")
    store_refresh_s: float = Field(
        default=5.0, ge=0.0,
        description="A running chat or API re-reads the store's manifest at most this often, "
        "so an ingest (into a Chroma server too) is answered from without a restart.")
    embed_batch_size: int = Field(
        default=64, ge=1, le=1024, description="Texts per embedding call."
    )
    torch_threads: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="torch intra-op threads; None keeps torch's default (all cores).",
    )
    cache_dir: Path = Field(
        default=Path("~/.cache/followup"),
        description="Where derived files are kept (the ONNX export of the embedding model, "
        "checked by sha256 on load and rebuilt when damaged); safe to delete.",
    )
    onnx_intra_threads: int = Field(
        default=1,
        ge=1,
        le=64,
        description="onnxruntime threads inside one forward pass (minilm-onnx): 1 is fastest "
        "on 2 cores when several questions or batches run at once.",
    )
    onnx_batch_workers: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Forward passes that a large embedding call (ingest) runs at once with "
        "minilm-onnx, each on onnx_intra_threads threads; None: one per core.",
    )
    chunk_max_chars: int = Field(
        default=1000,
        ge=200,
        le=4000,
        description="Largest chunk body in characters; a longer single sentence stays whole.",
    )
    chunk_overlap_chars: int = Field(
        default=200,
        ge=0,
        le=2000,
        description="Whole sentences, up to this many characters, that a chunk carries over "
        "from the end of the previous chunk of its section (at most half of chunk_max_chars).",
    )
    max_article_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1024,
        description="Largest article file (Markdown, text, XML) that ingest accepts.",
    )
    max_dataset_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1024,
        description="Largest dataset file (PubMedQA or COVID-QA JSON) that ingest accepts.",
    )
    chunks_per_write: int = Field(
        default=1024,
        ge=1,
        le=20000,
        description="Chunks embedded in one call and written together; large calls let the "
        "model sort texts by length (less padding), small ones lose less on a kill.",
    )
    progress: bool = Field(default=True, description="Show a progress bar on long runs.")
    query_threads: int = Field(
        default=1,
        ge=1,
        le=64,
        description="torch threads when answering: one query per thread is fastest under load "
        "on 2 cores (see README, Threads).",
    )
    max_question_chars: int = Field(
        default=2000, ge=50, le=100_000, description="Longest question accepted."
    )
    answer_min_coverage: float = Field(
        default=0.6, ge=0.0, le=1.0,
        description="A passage can answer when it covers this share of the question's "
        "IDF-weighted terms and its cosine is at least answer_min_dense (calibrated, README).",
    )
    answer_min_dense: float = Field(
        default=0.2, ge=-1.0, le=1.0, description="See answer_min_coverage."
    )
    answer_entity_dense: float = Field(
        default=0.3, ge=-1.0, le=1.0,
        description="A passage that names every entity of the question (drug, class, "
        "condition; answerability.py) can answer with this cosine, whatever its coverage.",
    )
    answer_entity_coverage: float = Field(
        default=0.25, ge=0.0, le=1.0, description="See answer_entity_dense: the coverage it "
        "still needs.")
    answer_close_dense: float = Field(
        default=0.35, ge=-1.0, le=1.0,
        description="A passage this close in meaning to the question answers it with only "
        "answer_close_coverage of its subject words: a clinician's question carries patient "
        "details and shorthand that no article repeats (calibrated on dev-tune, README).")
    answer_close_coverage: float = Field(default=0.1, ge=0.0, le=1.0,
                                         description="See answer_close_dense.")
    focus_min_dense: float = Field(
        default=0.3, ge=-1.0, le=1.0,
        description="A follow-up may be answered from a passage of the articles the previous "
        "answer cited (the conversation's focus) with this cosine to its standalone question, "
        "or with answer_min_dense and focus_min_coverage of the turn's own subject words.")
    focus_min_coverage: float = Field(default=0.3, ge=0.0, le=1.0,
                                      description="See focus_min_dense.")
    prefer_min_coverage: float = Field(
        default=0.6, ge=0.0, le=1.0,
        description="Passages covering this share with a cosine of prefer_min_dense (or "
        "prefer_strong_dense alone) are composed from in preference to the rest of those that "
        "pass the gate (answer_*): the gate decides whether to answer, these what from.",
    )
    prefer_min_dense: float = Field(default=0.2, ge=-1.0, le=1.0,
                                    description="See prefer_min_coverage.")
    prefer_strong_dense: float = Field(default=0.6, ge=-1.0, le=1.0,
                                       description="See prefer_min_coverage.")
    answer_strong_dense: float = Field(
        default=0.55, ge=-1.0, le=1.0,
        description="A passage this close to the question can answer whatever its coverage.",
    )
    llm: str | None = Field(
        default=None,
        pattern=r"^(ollama|openai):\S+$",
        description="Generative answers through an LLM: 'ollama:MODEL' or 'openai:MODEL' (any "
        "OpenAI-compatible server with llm_base_url). Unset: extractive answers, offline.",
    )
    llm_base_url: str | None = Field(
        default=None, description="Server URL of the LLM (Ollama or OpenAI-compatible)."
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key for an OpenAI-compatible server, if it needs one."
    )
    llm_timeout_s: float = Field(
        default=20.0, gt=0, le=600,
        description="Longest wait for the LLM; past it the answer falls back to extractive.",
    )
    chat_host: str = Field(
        default="127.0.0.1", description="Address the web chat binds to (loopback by default)."
    )
    chat_port: int = Field(default=7860, ge=1, le=65535, description="Port of the web chat.")
    chat_concurrency: int = Field(
        default=4, ge=1, le=64, description="Questions answered at once (Gradio queue)."
    )
    chat_username: str | None = Field(
        default=None, description="With chat_password: the chat asks for this login."
    )
    chat_password: SecretStr | None = Field(default=None, description="See chat_username.")
    passages_k: int = Field(default=8, ge=1, le=50, description="Passages returned per answer.")
    retrieval_candidates: int = Field(
        default=40, ge=5, le=500, description="Candidates taken from each of dense and BM25."
    )
    dense_weight: float = Field(
        default=0.8, ge=0.0, le=1.0, description="Weight of the dense cosine in the fusion."
    )
    coverage_weight: float = Field(
        default=0.2, ge=0.0, le=2.0, description="Second stage: query-term coverage weight."
    )
    window_weight: float = Field(
        default=0.4, ge=0.0, le=2.0,
        description="Second stage: best coverage by two consecutive sentences (weight).",
    )
    phrase_weight: float = Field(
        default=0.2, ge=0.0, le=2.0,
        description="Second stage: share of the question's adjacent term pairs found adjacent in "
        "the passage (weight).",
    )
    field_weight: float = Field(
        default=0.1, ge=0.0, le=2.0, description="Second stage: title/section match weight."
    )
    answer_type_weight: float = Field(
        default=0.05, ge=0.0, le=2.0,
        description="Second stage: bonus for a passage holding the kind of answer the question's "
        "opening asks for (a duration for \"how long\", a frequency, a dose; answer_type.py).",
    )

    @field_validator("chroma_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"chroma_url must look like http://HOST:PORT, got {value!r}")
        return value

    def describe_store(self) -> str:
        """Human name of the configured store."""
        return self.chroma_url if self.chroma_url else str(self.store_dir)


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment plus explicit overrides (None values are ignored).

    Raises:
        UsageError: a value is out of bounds, with the field named.
    """
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)  # type: ignore[arg-type]
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise UsageError(f"invalid settings: {exc}") from exc


def settings_table() -> str:
    """The README's table of settings (a test keeps the README in step with this class)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "–" if default is None else (
            "(hidden)" if hasattr(default, "get_secret_value") else str(default))
        rows.append(f"| `FOLLOWUP_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)
