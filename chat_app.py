"""``python chat_app.py [--host H] [--port P] [--store DIR | --chroma-url URL]``: the web chat.

The same command as ``followup chat``; a thin entry point kept at the root of the checkout.
The app itself is ``followup.chat_app`` (Gradio is imported there only).
"""

import sys

from followup.chat_app import main

if __name__ == "__main__":
    sys.exit(main())
