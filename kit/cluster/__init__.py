"""Cluster targets: an existing cluster or one a cloud stack creates (kit.cluster.target)."""
