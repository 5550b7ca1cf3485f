"""`oxiward api` and `oxiward gateway run`: settings from the environment, then the real thing."""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType

from oxiward.settings_errors import UsageError, load

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(default: str = "INFO") -> None:
    """`default` unless OXIWARD_LOG_LEVEL says otherwise (the demo quiets its children to WARNING)."""
    level = os.environ.get("OXIWARD_LOG_LEVEL", default).upper()
    if level not in logging.getLevelNamesMapping():
        raise UsageError(f"OXIWARD_LOG_LEVEL: {level!r} is not a level; use DEBUG, INFO, WARNING or ERROR")
    logging.basicConfig(level=level, format=LOG_FORMAT)


def exit_cleanly(signum: int, frame: FrameType | None) -> None:
    # uvicorn handles SIGTERM itself, shuts down gracefully, then re-raises the signal it caught
    # (uvicorn/server.py, capture_signals); this handler turns that into a plain exit 0.
    raise SystemExit(0)


def run_api() -> int:
    from api.settings import ApiSettings

    settings = load(lambda: ApiSettings(), ApiSettings, "OXIWARD_API_")  # type: ignore[call-arg]
    from api.main import serve

    configure_logging()
    signal.signal(signal.SIGTERM, exit_cleanly)
    serve(settings)
    return 0


def run_gateway() -> int:
    import asyncio

    from gateway.settings import load_settings

    try:
        settings = load_settings()
    except SystemExit as exc:  # load_settings exits with the list of bad variables
        raise UsageError(str(exc.code)) from None
    from gateway.app import Gateway

    configure_logging(settings.log_level)
    # The gateway handles SIGTERM/SIGINT itself: it stores what it has received, then returns.
    asyncio.run(Gateway(settings).run())
    return 0
