"""followup: grounded answers to clinicians' follow-up questions, only from evidence articles.

The pipeline, one module per step: articles (parse) -> importers (public datasets) -> chunks
(citation-aware) -> embedders -> store (Chroma) -> ingest.py (orchestration) -> retriever/ ->
answers -> chat_app.py / evals/.
"""

import os

# Process-wide safety switches, set before any library that reads them is imported: nothing may
# download model weights at run time, and nothing sends telemetry. They are defaults, not
# settings: a user who really wants otherwise can export the variable first.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"
