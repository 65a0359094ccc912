"""Gradio front end (presentation only; every action goes through assistant.service)."""
