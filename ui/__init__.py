"""User interfaces: the command line (and, from the [ui] issue on, the Gradio studio)."""
