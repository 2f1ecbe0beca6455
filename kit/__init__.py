"""lima-kit: fine-tune an open LLM on private data and serve it inside your own network."""

__version__ = "0.1.0"
