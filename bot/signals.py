"""SIGTERM and SIGINT as an asyncio event: how `pulse serve` and the sandbox learn to stop."""

import asyncio
import signal

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT from now on. Call it before telling anyone the
    process is ready: a signal that arrives while starting then means "stop cleanly once
    started" rather than the default instant death."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    return stop


def restore_signals() -> None:
    """Back to the defaults, so a second Ctrl+C during a slow shutdown still ends the process."""
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.remove_signal_handler(sig)
