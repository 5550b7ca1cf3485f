"""`python -m gateway`: run one home gateway from OXIWARD_GATEWAY_* settings until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging

from gateway.app import Gateway
from gateway.settings import load_settings


def main() -> None:
    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(Gateway(settings).run())


if __name__ == "__main__":
    main()
