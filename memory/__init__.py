"""Brand memory: what the graph recalls about a brand (voice, palette, rules) for each brief."""
