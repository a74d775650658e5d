"""The web chat and HTTP API (Gradio + FastAPI on one server); thin layers over assistant.qa."""
