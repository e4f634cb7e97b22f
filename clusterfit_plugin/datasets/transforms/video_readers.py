# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Video decoding backends: decord and PyAV behind one small interface.

Both return RGB ``uint8`` frames ``(T, H, W, 3)`` for the frame indices asked
for, decoding only what those indices need: decord seeks to each; PyAV
decodes sequentially and stops after the last index asked for. Every error
names the file and the backend.
"""
from typing import Sequence

import numpy as np

BACKENDS = ('auto', 'decord', 'pyav')


def _has_decord() -> bool:
    try:
        import decord  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_video_backend(backend: str) -> str:
    """``'auto'`` -> decord when installed, else PyAV.

    Args:
        backend (str): one of :data:`BACKENDS`.

    Returns:
        str: ``'decord'`` or ``'pyav'``.
    """
    if backend not in BACKENDS:
        raise ValueError(f'video backend={backend!r} is unknown; use one of '
                         f'{BACKENDS}.')
    if backend == 'auto':
        return 'decord' if _has_decord() else 'pyav'
    return backend


class VideoReadError(RuntimeError):
    """A video could not be opened or decoded."""


class VideoReader:
    """Open a video with a backend; read frames by index.

    Args:
        path (str): the video file.
        backend (str): ``'decord'``, ``'pyav'`` or ``'auto'``.
    """

    def __init__(self, path: str, backend: str = 'auto'):
        self.path = path
        self.backend = resolve_video_backend(backend)
        try:
            if self.backend == 'decord':
                import decord
                self._reader = decord.VideoReader(path, num_threads=1)
                self.num_frames = len(self._reader)
            else:
                import av
                self._reader = av.open(path)
                if not self._reader.streams.video:
                    raise ValueError('the file has no video stream')
                self.num_frames = self._count_pyav_frames()
        except VideoReadError:
            raise
        except Exception as e:
            raise self._error(f'cannot open it: {type(e).__name__}: {e}') \
                from e
        if self.num_frames <= 0:
            raise self._error('it has no video frames')

    def _error(self, what: str) -> VideoReadError:
        other = 'pyav' if self.backend == 'decord' else 'decord'
        return VideoReadError(
            f'video {self.path!r} (backend {self.backend}): {what}. Re-encode '
            f"or remove the file, or try backend='{other}'.")

    def _count_pyav_frames(self) -> int:
        stream = self._reader.streams.video[0]
        if stream.frames:
            return int(stream.frames)
        count = sum(1 for packet in self._reader.demux(stream) if packet.size)
        self._reader.seek(0)
        return count

    def read(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` (any order, repeats allowed).

        Args:
            indices (Sequence[int]): frame indices in ``[0, num_frames)``.

        Returns:
            np.ndarray: (len(indices), H, W, 3) uint8 RGB.
        """
        indices = np.asarray(indices, dtype=np.int64)
        wanted = np.unique(indices)
        try:
            if self.backend == 'decord':
                frames = self._reader.get_batch(wanted.tolist()).asnumpy()
            else:
                frames = self._read_pyav(wanted)
        except VideoReadError:
            raise
        except Exception as e:
            raise self._error(f'decoding frames {wanted[:8].tolist()} '
                              f'failed: {type(e).__name__}: {e}') from e
        return frames[np.searchsorted(wanted, indices)]

    def _read_pyav(self, wanted: np.ndarray) -> np.ndarray:
        self._reader.seek(0)
        out, want, last = [], set(wanted.tolist()), int(wanted[-1])
        for i, frame in enumerate(self._reader.decode(video=0)):
            if i in want:
                out.append(frame.to_ndarray(format='rgb24'))
            if i >= last:
                break
        if len(out) != len(wanted):
            raise self._error(
                f'only {len(out)} of the frames {wanted[:8].tolist()} '
                f'could be decoded (the file reports {self.num_frames} '
                'frames; truncated?)')
        return np.stack(out)

    def close(self) -> None:
        """Release the file."""
        if self.backend == 'pyav':
            self._reader.close()
        self._reader = None
