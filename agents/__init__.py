"""Agents: one module per role (intake, planner, copywriter, art director), prompts and the model factory."""
