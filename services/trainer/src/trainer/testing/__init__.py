"""Test and benchmark helpers of the trainer: a tiny worker, a fake Kubernetes API server."""
