# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Progress lines for long steps, through the mmengine logger, throttled.

:class:`ProgressLogger` logs at most one line every ``interval_s`` seconds,
so a long k-means fit or a large assignment says where it is while a short
one (as in the tests) stays quiet. :func:`forward_c_stdout` turns the
per-iteration lines that faiss prints from C++ into such progress lines.
"""
import contextlib
import os
import re
import sys
import threading
import time
from typing import Callable, Iterator, Optional

from mmengine.logging import print_log

DEFAULT_INTERVAL_S = 5.0


class ProgressLogger:
    """Log progress messages at most once every ``interval_s`` seconds.

    Args:
        interval_s (float, optional): the least time between two lines; 0
            logs every call, None logs nothing. Defaults to
            :data:`DEFAULT_INTERVAL_S`.
        logger (str): the mmengine logger. Defaults to ``'current'``.
    """

    def __init__(self,
                 interval_s: Optional[float] = DEFAULT_INTERVAL_S,
                 logger: str = 'current'):
        self.interval_s = interval_s
        self.logger = logger
        self._last = time.perf_counter()

    def due(self) -> bool:
        """Whether a line may be logged now.

        Returns:
            bool: True when ``interval_s`` has passed since the last line.
        """
        return (self.interval_s is not None
                and time.perf_counter() - self._last >= self.interval_s)

    def log(self, message: str) -> bool:
        """Log ``message`` if a line is due.

        Args:
            message (str): the progress line.

        Returns:
            bool: whether it was logged.
        """
        if not self.due():
            return False
        print_log(message, logger=self.logger)
        self._last = time.perf_counter()
        return True


FAISS_ITERATION = re.compile(
    r'Iteration (\d+) \(([\d.]+) s, search [\d.]+ s\): objective=(\S+)')
FAISS_QUIET = re.compile(r'(Clustering \d+ points|Preprocessing in|'
                         r'Sampling a subset|Computing centroids)')


@contextlib.contextmanager
def forward_c_stdout(on_line: Callable[[str], bool]) -> Iterator[None]:
    """Hand what C/C++ code prints to file descriptor 1 to ``on_line``.

    faiss reports its k-means iterations only by printing to the process's
    stdout (lines ended by ``\\r``). Inside this context that descriptor is a
    pipe read by a thread: each line goes to ``on_line``, and the lines it
    does not take (returns False) are written on to the real stdout
    unchanged, so nothing else printed meanwhile is lost. faiss releases the
    GIL while it trains, so the lines arrive while it runs.

    Args:
        on_line (callable): called with each line (no line end); returns
            True when it consumed the line.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 1)
    os.close(write_end)

    def pump():
        pending = b''
        with os.fdopen(read_end, 'rb', buffering=0) as pipe:
            for chunk in iter(lambda: pipe.read(65536), b''):
                pending += chunk
                *lines, pending = re.split(rb'[\r\n]', pending)
                for line in lines:
                    text = line.decode(errors='replace')
                    if text.strip() and not on_line(text.strip()):
                        os.write(saved, line + b'\n')
        if pending.strip():
            os.write(saved, pending)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)  # closes the pipe's last write end: pump ends
        thread.join()
        os.close(saved)


def faiss_progress(progress: ProgressLogger,
                   niter: int) -> Callable[[str], bool]:
    """A line handler for :func:`forward_c_stdout` that turns faiss's
    k-means output into throttled progress lines.

    Args:
        progress (ProgressLogger): where the lines go.
        niter (int): the iterations asked for, for the message.

    Returns:
        callable: line -> whether it was faiss's.
    """

    def on_line(line: str) -> bool:
        match = FAISS_ITERATION.search(line)
        if match:
            progress.log(f'k-means iteration {int(match.group(1)) + 1}/'
                         f'{niter}: objective {float(match.group(3)):.6g} '
                         f'({float(match.group(2)):.1f}s)')
            return True
        return bool(FAISS_QUIET.search(line))

    return on_line
