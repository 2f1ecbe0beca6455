"""`kit plan`: what the stack would create, offline (Pulumi mocks) or as a real preview."""

from kit.plan.runner import Plan, offline_plan

__all__ = ["Plan", "offline_plan"]
