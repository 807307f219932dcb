"""``python ingest.py [PATH...] [options]``: the same command as ``followup ingest``.

A thin entry point kept at the root of the checkout; the body is ``followup.ingest``
(articles -> citation-aware chunks -> sentence-transformers embeddings -> Chroma).
"""

import sys

from followup.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))
