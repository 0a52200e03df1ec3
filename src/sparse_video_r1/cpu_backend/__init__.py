"""verl on CPU: the platform and (for training) a transformers rollout backend; never used where a GPU is."""
