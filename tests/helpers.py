# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Helpers shared by the tests (import them from here, not from conftest)."""
import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (for a test's rendezvous).

    Returns:
        int: the port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
