"""gemini-live: a voice agent for the Gemini Live API that bridges to MCP tool servers."""

__version__ = "0.1.0"
