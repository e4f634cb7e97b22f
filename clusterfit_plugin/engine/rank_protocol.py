# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""How ranks wait for each other without hanging: the store-based rank
protocol of a clustering round.

While rank 0 works alone (the k-means fit), the other ranks wait on the
process group's key-value store in slices of ``wait_poll_s`` rather than
inside a collective, so a fit longer than the process group's timeout does
not fail them. A step that fails on rank 0 is reported to them through the
store, and a store that is gone (rank 0 or its host died) ends them within
a slice, each with an error that names the cause. :func:`all_ranks_done`
does the same for a step every rank runs (the extraction, the assignment):
an exception on any rank ends every rank, and a rank killed silently is
noticed by its missing heartbeat.
"""
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Optional, TypeVar

import torch.distributed as torch_dist
from mmengine.dist import broadcast_object_list, get_dist_info, is_main_process
from mmengine.logging import print_log

# How rank 0 marks a key when its step failed.
FAILED = 'failed: '
T = TypeVar('T')


def rank0_then_broadcast(compute: Callable[[], T]) -> T:
    """Run ``compute`` on rank 0 only and give its result to every rank;
    when it raises, every rank ends with its error.

    Args:
        compute (callable): computes the value (called on rank 0).

    Returns:
        The value, on every rank (without a process group: ``compute()``).
    """
    value = [None]
    if is_main_process():
        try:
            value = [compute()]
        except Exception as err:
            # The other ranks wait in the broadcast: give them the cause.
            broadcast_object_list([_Failure(_first_line(err))], src=0)
            raise
    broadcast_object_list(value, src=0)
    if isinstance(value[0], _Failure):
        raise RuntimeError(f'rank 0 failed, so this rank stops too: '
                           f'{value[0].message}')
    return value[0]


@dataclass
class _Failure:
    """What :func:`rank0_then_broadcast` sends when rank 0 failed."""
    message: str


def default_store():
    """The default process group's store, or None without a process group.

    ``torch.distributed`` has no public accessor for it; the private one is
    checked by ``tests/test_engine/test_dist_clustering.py``, so that a
    torch without it fails there, not in a user's run.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return None
    return torch_dist.distributed_c10d._get_default_store()


def _first_line(err: BaseException) -> str:
    """An exception as one short line (c10d appends pages of C++ frames)."""
    lines = str(err).strip().splitlines()
    return f'{type(err).__name__}: {lines[0] if lines else ""}'[:500]


def _is_timeout(err: RuntimeError) -> bool:
    """Whether a store wait failed only because its slice ran out."""
    network_error = getattr(torch_dist, 'DistNetworkError', ())
    return (not isinstance(err, network_error)
            and 'timeout' in _first_line(err).lower())


def collective(step: str, fn: Callable[..., T], *args, **kwargs) -> T:
    """Run a collective that every rank reaches only after the store-based
    checks passed everywhere; a transport error in it means a peer died or
    lost its connection since, and is raised naming the step.

    Args:
        step (str): what the collective does, for the message.
        fn (Callable): the collective (``all_gather_object``, ...).
        *args, **kwargs: its arguments.

    Returns:
        Any: what the collective returns.
    """
    try:
        return fn(*args, **kwargs)
    except RuntimeError as err:
        raise RuntimeError(
            f'another rank was lost while {step}: its process died or its '
            'connection closed after the earlier steps had succeeded on '
            f'every rank ({_first_line(err)}). Look for the first error of '
            'the other ranks, or the signal that ended them.') from err


def _store_lost(err: RuntimeError, waiting_for: str) -> RuntimeError:
    return RuntimeError(
        "lost the process group's store while waiting for "
        f'{waiting_for}: rank 0 (the store\'s host under torchrun, slurm '
        'and env:// launches) or the store\'s host has gone, so this rank '
        f'stops too ({_first_line(err)}). Look for the first error of rank '
        '0.')


def _wait_key(store,
              key: str,
              poll_s: float,
              waiting_for: str,
              beat_key: Optional[str] = None) -> str:
    """The value of ``key`` once it is set, waiting in slices of ``poll_s``
    (a progress line after each).

    Args:
        store: a c10d store.
        key (str): the key.
        poll_s (float): seconds per wait.
        waiting_for (str): what is awaited, for the messages.
        beat_key (str, optional): the awaited rank's :class:`Heartbeat`;
            when it has not moved for two slices (ten before its first
            beat), that rank is gone.

    Returns:
        str: the value.

    Raises:
        RuntimeError: the store can no longer be reached, or the awaited
            rank stopped beating.
    """
    start = time.perf_counter()
    last_beat, still = None, 0
    while True:
        try:
            store.wait([key], timedelta(seconds=poll_s))
            return store.get(key).decode()
        except RuntimeError as err:
            if not _is_timeout(err):
                raise _store_lost(err, waiting_for) from None
        waited = time.perf_counter() - start
        if beat_key is not None:
            try:
                beat = store.get(beat_key) if store.check([beat_key]) else b''
            except RuntimeError as err:
                raise _store_lost(err, waiting_for) from None
            still = still + 1 if beat == last_beat else 0
            last_beat = beat
            # Two still slices once it has beaten; ten before its first beat
            # (it may not have started the step yet).
            if still >= (2 if beat else 10):
                raise RuntimeError(
                    f'gave up waiting for {waiting_for}: it has given no '
                    f'sign of life for {still * poll_s:g}s (killed, or its '
                    'machine is gone), so this rank stops too. Look for its '
                    'error, or the reason it was killed.')
        print_log(
            f'waiting for {waiting_for} ({waited:.0f}s)', logger='current')


class Heartbeat:
    """While a step runs, set ``key`` to a new value every ``period`` s from
    a daemon thread, so that ranks waiting for the step can tell a slow rank
    from a dead one (c10d store operations are thread-safe).

    Args:
        store: a c10d store.
        key (str): the key to beat on.
        period (float): seconds between beats.
    """

    def __init__(self, store, key: str, period: float):
        self.store = store
        self.key = key
        self.period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        count = 0
        while True:
            count += 1
            try:
                self.store.set(self.key, str(count))
            except RuntimeError:  # the store is gone; the waiters see it
                return
            if self._stop.wait(self.period):
                return

    def __enter__(self) -> 'Heartbeat':
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _acknowledge(store, key: str) -> None:
    """Tell the failed rank that this rank read its failure."""
    try:
        store.set(f'{key}/seen/{get_dist_info()[0]}', '1')
    except RuntimeError:
        pass


def report_failure(store,
                   key: str,
                   err: BaseException,
                   world_size: int,
                   poll_s: float,
                   rank: int = 0) -> None:
    """Tell the ranks waiting on ``key`` that ``rank`` failed, and give them
    up to ``min(poll_s, 30)`` s to read it (rank 0 usually hosts the store,
    which ends with its process).

    Args:
        store: the c10d store the other ranks wait on.
        key (str): the key they wait for.
        err (BaseException): the error.
        world_size (int): number of ranks.
        poll_s (float): the wait slice.
        rank (int): the failed rank. Defaults to 0.
    """
    try:
        store.set(key, FAILED + _first_line(err))
        store.wait([f'{key}/seen/{r}' for r in range(world_size) if r != rank],
                   timedelta(seconds=min(poll_s, 30.0)))
    except RuntimeError:  # a rank did not read it in time, or is gone
        pass


def wait_for_rank0(store, key: str, poll_s: float) -> None:
    """Block until rank 0 sets ``key`` in ``store``, however long it takes.

    Args:
        store: a c10d store.
        key (str): the key rank 0 sets when done.
        poll_s (float): seconds per wait; a progress line is logged after
            each.

    Raises:
        RuntimeError: rank 0 reported that it failed (its error is named),
            the store can no longer be reached (within ``poll_s`` of its
            loss), or rank 0 stopped beating (its ``{key}/beat``
            :class:`Heartbeat`) while the store lives on.
    """
    value = _wait_key(store, key, poll_s, 'rank 0 to fit k-means',
                      f'{key}/beat')
    if value.startswith(FAILED):
        _acknowledge(store, key)
        raise RuntimeError('rank 0 failed while fitting k-means, so this '
                           f'rank stops too: {value[len(FAILED):]}')


def all_ranks_done(step: Callable[[], T], name: str, round_id: int,
                   poll_s: float) -> T:
    """Run ``step`` on every rank, then wait until every rank has finished
    it, through the store in slices of ``poll_s`` (not in a collective).

    A rank whose step raises reports its error through the store before
    re-raising, so the other ranks end with it as soon as their own step is
    done (with its cause, not a collective's error); a rank that dies
    silently stops beating (:class:`Heartbeat`), so the others end within
    about two slices of ``poll_s``.

    Args:
        step (callable): this rank's part (e.g. its extraction).
        name (str): the step, for the keys and messages.
        round_id (int): distinguishes the keys of successive calls.
        poll_s (float): seconds per wait.

    Returns:
        What ``step`` returned (without a process group: ``step()``).

    Raises:
        RuntimeError: another rank's step failed (its error is named), or
            the store can no longer be reached.
    """
    rank, world_size = get_dist_info()
    store = default_store() if world_size > 1 else None
    if store is None:
        return step()
    key = f'clusterfit/{name}/{round_id}'
    try:
        with Heartbeat(store, f'{key}/beat/{rank}', poll_s / 4):
            value = step()
    except Exception as err:
        report_failure(store, f'{key}/{rank}', err, world_size, poll_s, rank)
        raise
    try:
        store.set(f'{key}/{rank}', '1')
    except RuntimeError as err:
        raise _store_lost(err, f'the other ranks to finish {name}') from None
    for other in range(world_size):
        if other == rank:
            continue
        state = _wait_key(store, f'{key}/{other}', poll_s,
                          f'rank {other} to finish {name}',
                          f'{key}/beat/{other}')
        if state.startswith(FAILED):
            _acknowledge(store, f'{key}/{other}')
            raise RuntimeError(f'rank {other} failed in {name}, so this rank '
                               f'stops too: {state[len(FAILED):]}')
    return value
