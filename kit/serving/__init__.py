"""Talking to the endpoint: one client for TGI, vLLM and `transformers serve`."""
