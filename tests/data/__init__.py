"""Data onboarding, storage layer and model mirror tests (real protocol servers on loopback)."""
