"""The Kubernetes executor: one batch/v1 Job per attempt, built by pure functions (``manifests``) and
driven through the official client (``executor``)."""
