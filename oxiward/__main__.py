"""`python -m oxiward` is the `oxiward` command."""

from __future__ import annotations

import sys

from oxiward.cli import main

sys.exit(main())
