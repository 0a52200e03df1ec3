"""verl on CPU: the platform and verl's vLLM rollout on vLLM's CPU build; never used where a GPU is."""
