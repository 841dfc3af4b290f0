"""Scripts that rebuild the repository's generated data (reference face, sample videos)."""
