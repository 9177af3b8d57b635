"""Where a claimed run executes. Every executor starts the same entrypoint: ``python -m trainer.training``."""
