"""The web chat (Gradio) for clinicians; built by the web-chat issue on top of grounded answers.

Until then the README's first command ingests the sample corpus and prints the summary.
"""
