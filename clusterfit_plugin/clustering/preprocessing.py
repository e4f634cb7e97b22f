# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Feature preprocessing before k-means: optional PCA with whitening, then
L2 normalisation, fitted on the k-means sample and applied chunk by chunk
(in numpy, or in torch on the rows' device),
so no second full-size copy of the features is ever made."""
from typing import Optional

import numpy as np
import torch


class Preprocessor:
    """Optional PCA (with whitening) then L2 normalisation, per chunk.

    Fitted on the k-means sample (as DeepCluster and VISSL do PCA-whitening
    before k-means) and then applied to any chunk of features.

    Args:
        pca_dim (int, optional): output dimension of PCA; None skips PCA.
        whiten (bool): scale PCA components to unit variance. Defaults to
            True.
        l2_normalize (bool): L2-normalise rows last. Defaults to True.
    """

    def __init__(self,
                 pca_dim: Optional[int] = None,
                 whiten: bool = True,
                 l2_normalize: bool = True):
        self.pca_dim = pca_dim
        self.whiten = whiten
        self.l2_normalize = l2_normalize
        self.mean: Optional[np.ndarray] = None
        self.projection: Optional[np.ndarray] = None

    def fit(self, sample: np.ndarray) -> 'Preprocessor':
        """Fit PCA on the sample (nothing to fit without PCA).

        Args:
            sample (np.ndarray): (M, D) float32 features.

        Returns:
            Preprocessor: self.
        """
        if self.pca_dim is None:
            return self
        if not 0 < self.pca_dim <= sample.shape[1]:
            raise ValueError(f'pca dim={self.pca_dim} must lie in [1, '
                             f'{sample.shape[1]}] (the feature dimension).')
        x = sample.astype(np.float64)
        self.mean = x.mean(0)
        cov = np.cov(x - self.mean, rowvar=False)
        eigval, eigvec = np.linalg.eigh(cov)
        order = np.argsort(eigval)[::-1][:self.pca_dim]
        projection = eigvec[:, order]
        if self.whiten:
            projection = projection / np.sqrt(np.maximum(eigval[order], 1e-12))
        self.projection = projection.astype(np.float32)
        self.mean = self.mean.astype(np.float32)
        return self

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        """Preprocess a chunk of features.

        Args:
            chunk (np.ndarray): (n, D) features.

        Returns:
            np.ndarray: (n, D') float32 features.
        """
        x = np.asarray(chunk, dtype=np.float32)
        if self.projection is not None:
            x = (x - self.mean) @ self.projection
        if self.l2_normalize:
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(x, dtype=np.float32)

    def apply_torch(self, chunk: torch.Tensor) -> torch.Tensor:
        """Preprocess a chunk in torch, on its device (the same steps as
        :meth:`__call__`, for rows already on a GPU).

        Args:
            chunk (Tensor): (n, D) features, any float dtype.

        Returns:
            Tensor: (n, D') float32 features, a new tensor.
        """
        if self.projection is not None:
            mean = torch.from_numpy(self.mean).to(chunk.device)
            projection = torch.from_numpy(self.projection).to(chunk.device)
            x = (chunk.float() - mean) @ projection
        else:
            x = chunk.to(torch.float32, copy=True)
        if self.l2_normalize:
            x /= torch.linalg.vector_norm(
                x, dim=1, keepdim=True).clamp_min_(1e-12)
        return x
