"""The LangGraph graph: state, nodes, routers, review checkpoints, and the runner the CLI and UI use."""
