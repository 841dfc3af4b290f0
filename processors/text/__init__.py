"""Text infrastructure shared by the text processors (``language``, ``narrative``) and clinical modules.

- :mod:`bitbox.processors.text.textfile`: :func:`~bitbox.processors.text.textfile.read_text_file` decodes
  any text file whatever its encoding (BOMs, UTF-16/32 without one, UTF-8, legacy code pages);
- :mod:`bitbox.processors.text.transcript`: transcripts (plain text, timed JSON, SRT) and offline
  speech recognition (faster-whisper), with words, times and speakers;
- :mod:`bitbox.processors.text.encoder`: the packaged sentence encoder (all-MiniLM-L6-v2) for text
  embeddings.

No processor lives here, so every processor may import it (the import contracts in ``pyproject.toml``).
"""
