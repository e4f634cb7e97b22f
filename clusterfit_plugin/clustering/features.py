"""Feature post-processing shared by every backend: checks and L2 norm."""
import numpy as np

from .kmeans import iter_chunks


def l2_normalize_(features: np.ndarray, chunk_size: int = 65536) -> np.ndarray:
    """L2-normalise the rows of ``features`` in place, chunk by chunk.

    Args:
        features (np.ndarray): (N, D) float array (memmap allowed).
        chunk_size (int): rows per chunk. Defaults to 65536.

    Returns:
        np.ndarray: ``features``, normalised.
    """
    for sl in iter_chunks(features.shape[0], chunk_size):
        chunk = features[sl].astype(np.float32)
        norm = np.linalg.norm(chunk, axis=1, keepdims=True)
        features[sl] = chunk / np.maximum(norm, 1e-12)
    return features


def check_finite(features: np.ndarray, indices: np.ndarray,
                 where: str) -> None:
    """Raise if any feature is NaN or infinite, naming the samples.

    Args:
        features (np.ndarray): (n, D) features.
        indices (np.ndarray): (n,) dataset indices of the rows.
        where (str): what produced the features, for the message.
    """
    bad = ~np.isfinite(features).all(axis=1)
    if bad.any():
        first = indices[bad][:5].tolist()
        raise ValueError(
            f'{where} produced NaN/inf features for {int(bad.sum())} '
            f'sample(s), e.g. dataset indices {first}. Check the source '
            'checkpoint (diverged weights?) and the extract pipeline '
            '(corrupt or constant inputs); nothing was written.')
