"""`python -m api`: run the service from OXIWARD_API_* settings (the `oxiward api` command calls serve())."""

from __future__ import annotations

import logging
import sys

from pydantic import ValidationError

from api.main import serve
from api.settings import ApiSettings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = ApiSettings()  # type: ignore[call-arg]
    except ValidationError as err:
        # Name each bad or missing variable and what to do, without echoing secret values.
        for e in err.errors():
            name = "OXIWARD_API_" + "_".join(str(p) for p in e["loc"]).upper()
            print(f"oxiward api: {name}: {e['msg']}", file=sys.stderr)
        return 2
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
