"""Pulumi program for lima-kit: per-cloud infrastructure and the Kubernetes platform layer."""
