# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Typed settings: a dict argument parsed into an object that refuses what it
does not know.

A config dict that keeps unknown keys turns a typo (``checkpont=``) or a
neighbouring library's word (mmselfsup's ``pretrained=``) into a silently
different run. Every dict setting of the plugin is parsed by
:meth:`Settings.parse`, which names an unknown key, the accepted keys and
the closest match, and whose fields check their type and range.

Pure Python: usable from every layer of the package.
"""
import dataclasses
import difflib
import math
import numbers
import os
from typing import (Any, ClassVar, Dict, Iterable, List, Mapping, Optional,
                    Sequence)

# The largest integer a setting may hold: what numpy's and torch's int64
# (and so every size, count and index downstream) can represent.
INT64_MAX = 2**63 - 1


def check_keys(given: Iterable[str],
               accepted: Sequence[str],
               where: str,
               foreign: Optional[Mapping[str, str]] = None) -> None:
    """Raise on the first key of ``given`` that is not in ``accepted``.

    Args:
        given (Iterable[str]): the keys a user wrote.
        accepted (Sequence[str]): the keys that are understood.
        where (str): what is being set (``'source'``,
            ``'ClusterFitHook kmeans'``), for the message.
        foreign (Mapping[str, str], optional): keys of other libraries
            mapped to what to write here instead (``'pretrained'`` ->
            ``"checkpoint (mmselfsup's pretrained=)"``).

    Raises:
        ValueError: names the key, the fix (the plugin's word for a foreign
            key, or the closest accepted key) and the accepted keys.
    """
    for key in given:
        if key in accepted:
            continue
        if foreign and key in foreign:
            hint = f'; write {foreign[key]} instead'
        else:
            close = difflib.get_close_matches(
                str(key), list(accepted), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ''
        raise ValueError(f'{where}: unknown key {key!r}{hint} (accepted: '
                         f'{", ".join(accepted)}).')


def as_int(value: Any,
           what: str,
           minimum: Optional[int] = None,
           maximum: Optional[int] = None) -> int:
    """An integer setting, checked.

    Args:
        value: what the user wrote.
        what (str): the setting's name, for the message.
        minimum (int, optional): the smallest allowed value.
        maximum (int, optional): the largest allowed value. Defaults to
            :data:`INT64_MAX`.

    Returns:
        int: the value.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f'{what}={value!r} must be an integer.')
    value = int(value)
    maximum = INT64_MAX if maximum is None else maximum
    if minimum is not None and value < minimum:
        raise ValueError(f'{what}={value} must be >= {minimum}.')
    if maximum is not None and value > maximum:
        raise ValueError(f'{what}={value} must be <= {maximum}.')
    return value


def as_float(value: Any,
             what: str,
             minimum: Optional[float] = None,
             maximum: Optional[float] = None) -> float:
    """A finite real-valued setting, checked (integers are accepted).

    Args:
        value: what the user wrote.
        what (str): the setting's name, for the message.
        minimum (float, optional): the smallest allowed value.
        maximum (float, optional): the largest allowed value.

    Returns:
        float: the value.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f'{what}={value!r} must be a number.')
    try:
        value = float(value)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise ValueError(f'{what}={value} must be a finite number.')
    if minimum is not None and value < minimum:
        raise ValueError(f'{what}={value} must be >= {minimum}.')
    if maximum is not None and value > maximum:
        raise ValueError(f'{what}={value} must be <= {maximum}.')
    return value


def as_bool(value: Any, what: str) -> bool:
    """A flag, checked (``'False'`` is a string, not a flag).

    Args:
        value: what the user wrote.
        what (str): the setting's name, for the message.

    Returns:
        bool: the value.
    """
    if not isinstance(value, bool):
        raise TypeError(f'{what}={value!r} must be True or False.')
    return value


def as_path(value: Any, what: str, optional: bool = False) -> Optional[str]:
    """A file or directory path setting, checked (not read).

    Args:
        value: what the user wrote.
        what (str): the setting's name, for the message.
        optional (bool): None is accepted (and returned). Defaults to False.

    Returns:
        str | None: the path as a string.
    """
    if value is None and optional:
        return None
    if not isinstance(value, (str, os.PathLike)) or isinstance(
            os.fspath(value), bytes) or not os.fspath(value):
        raise TypeError(f'{what}={value!r} must be a path (a non-empty str)'
                        f'{" or None" if optional else ""}.')
    return os.fspath(value)


def as_transforms(value: Any, what: str) -> List:
    """A data pipeline setting: a list of transform config dicts (each with
    a ``type``) or transform objects, checked (not built).

    Args:
        value: what the user wrote.
        what (str): the setting's name, for the message.

    Returns:
        list: the transforms.
    """
    if not isinstance(value, (list, tuple)):
        raise TypeError(f'{what} must be a list of transforms, e.g. '
                        "[dict(type='LoadImageFromFile'), ...]; got "
                        f'{value!r}.')
    for i, step in enumerate(value):
        if isinstance(step, Mapping):
            if 'type' not in step:
                raise ValueError(f'{what}[{i}]={dict(step)!r} has no '
                                 "'type'.")
        elif not callable(step):
            raise TypeError(f'{what}[{i}]={step!r} must be a transform '
                            "config dict (dict(type='Resize', ...)) or a "
                            'transform object.')
    return list(value)


def as_choice(value: Any, what: str, choices: Sequence[str]) -> str:
    """One of a few names, checked.

    Args:
        value: what the user wrote.
        what (str): the setting's name, for the message.
        choices (Sequence[str]): the accepted names.

    Returns:
        str: the value.
    """
    if value not in choices:
        close = difflib.get_close_matches(
            str(value), list(choices), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ''
        raise ValueError(f'{what}={value!r} is unknown{hint}; use one of '
                         f'{tuple(choices)}.')
    return value


class Settings:
    """Base of the plugin's settings dataclasses.

    A subclass is a ``@dataclass`` whose fields are the accepted keys and
    whose ``__post_init__`` checks (and normalises) their values.

    Attributes:
        NAME (str): what the settings are called in a config, for messages.
        FOREIGN (dict): keys other libraries use for these settings, mapped
            to what to write here instead.
    """

    NAME: ClassVar[str] = 'settings'
    FOREIGN: ClassVar[Dict[str, str]] = {}

    @classmethod
    def keys(cls) -> tuple:
        """tuple: the accepted keys."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def parse(cls, value: Any, where: Optional[str] = None):
        """Settings from a config dict (or settings already parsed).

        Args:
            value (Mapping | Settings): what the user wrote.
            where (str, optional): the setting's place, for messages.
                Defaults to :attr:`NAME`.

        Returns:
            Settings: an instance of ``cls``.
        """
        if isinstance(value, cls):
            return value
        where = where or cls.NAME
        if not isinstance(value, Mapping):
            raise TypeError(f'{where} must be a dict with the keys '
                            f'{", ".join(cls.keys())}; got {value!r}.')
        check_keys(value, cls.keys(), where, cls.FOREIGN)
        return cls(**dict(value))

    def to_dict(self) -> dict:
        """dict: the settings as plain values (for manifests and hashes)."""
        return dataclasses.asdict(self)
