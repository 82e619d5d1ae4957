"""Tools the agents call: the layout renderer, the content-addressed asset store, checks and export."""
