# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Video decoding backends: decord and PyAV behind one small interface.

Both return RGB ``uint8`` frames ``(T, H, W, 3)`` for the frame indices asked
for, decoding only what those indices need: decord seeks to each; PyAV
decodes sequentially and stops after the last index asked for. Every error
names the file and the backend. With ``backend='auto'`` a file that decord
cannot open or decode (decord 0.6.0 fails on frames whose width is not a
multiple of its row alignment, e.g. 48 x 40) is read with PyAV instead; the
first such fallback in a process is logged.
"""
import logging
from typing import Sequence

import numpy as np
from mmengine.logging import print_log

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


_fallback_logged = False


def _log_fallback(path: str, error: Exception) -> None:
    """Say once per process that ``'auto'`` fell back to PyAV."""
    global _fallback_logged
    if _fallback_logged:
        return
    _fallback_logged = True
    print_log(
        f"video backend 'auto': decord could not read {path!r} ({error}); "
        'it and any other such file are read with PyAV (logged once per '
        "process). Set backend='pyav' to skip decord.",
        logger='current',
        level=logging.WARNING)


class VideoReader:
    """Open a video with a backend; read frames by index.

    Args:
        path (str): the video file.
        backend (str): ``'decord'``, ``'pyav'`` or ``'auto'`` (decord, and
            PyAV for a file decord fails on).
    """

    def __init__(self, path: str, backend: str = 'auto'):
        self.path = path
        self.fallback = backend == 'auto'
        self.backend = resolve_video_backend(backend)
        self._reader = None
        self._decord_error = None
        try:
            self._open()
        except VideoReadError as e:
            if not self._fall_back(e):
                raise

    def _fall_back(self, error: Exception) -> bool:
        """Switch an ``'auto'`` reader from decord to PyAV.

        Returns:
            bool: whether it switched.
        """
        if not (self.fallback and self.backend == 'decord'):
            return False
        self.close()
        self._decord_error = error.__cause__ or error
        self.backend, self.fallback = 'pyav', False
        self._open()
        _log_fallback(self.path, self._decord_error)
        return True

    def _open(self) -> None:
        try:
            if self.backend == 'decord':
                import decord
                self._reader = decord.VideoReader(self.path, num_threads=1)
                self.num_frames = len(self._reader)
            else:
                import av
                self._reader = av.open(self.path)
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
        if self._decord_error is not None:
            hint = f' (decord failed on it too: {self._decord_error})'
        else:
            other = 'pyav' if self.backend == 'decord' else 'decord'
            hint = f", or try backend='{other}'"
        return VideoReadError(
            f'video {self.path!r} (backend {self.backend}): {what}. Re-encode '
            f'or remove the file{hint}.')

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
            frames = self._read(wanted)
        except VideoReadError as e:
            if not self._fall_back(e):
                raise
            frames = self._read(wanted)
        return frames[np.searchsorted(wanted, indices)]

    def _read(self, wanted: np.ndarray) -> np.ndarray:
        try:
            if self.backend == 'decord':
                return self._reader.get_batch(wanted.tolist()).asnumpy()
            return self._read_pyav(wanted)
        except VideoReadError:
            raise
        except Exception as e:
            raise self._error(f'decoding frames {wanted[:8].tolist()} '
                              f'failed: {type(e).__name__}: {e}') from e

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
        if self.backend == 'pyav' and self._reader is not None:
            self._reader.close()
        self._reader = None


class DecodedVideo:
    """A whole video decoded once and served from memory, behind the
    :class:`VideoReader` interface (``num_frames``, ``backend``, ``read``,
    ``close``).

    Args:
        path (str): the video file.
        frames (np.ndarray): all its frames, (T, H, W, 3) uint8 RGB.
        backend (str): the backend that decoded them.
    """

    def __init__(self, path: str, frames: np.ndarray, backend: str):
        self.path = path
        self.frames = frames
        self.backend = backend
        self.num_frames = len(frames)

    @classmethod
    def decode(cls, reader: VideoReader) -> 'DecodedVideo':
        """Decode every frame of an open reader, then close it.

        Args:
            reader (VideoReader): the open video.

        Returns:
            DecodedVideo: its frames in memory.
        """
        try:
            frames = reader.read(np.arange(reader.num_frames))
        finally:
            reader.close()
        return cls(reader.path, frames, reader.backend)

    def read(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` (a new array: callers may write into it).

        Args:
            indices (Sequence[int]): frame indices in ``[0, num_frames)``.

        Returns:
            np.ndarray: (len(indices), H, W, 3) uint8 RGB.
        """
        return self.frames[np.asarray(indices, dtype=np.int64)]

    def close(self) -> None:
        """Nothing to release: the frames stay for the next read."""
