"""Where the policies live: `HYGIENE_POLICIES_DIR`, else this checkout's `policies/`, else the working dir's."""

from __future__ import annotations

import os
from pathlib import Path


def policies_dir() -> Path:
    configured = os.environ.get("HYGIENE_POLICIES_DIR")
    if configured:
        return Path(configured)
    bundled = Path(__file__).resolve().parents[1] / "policies"
    return bundled if bundled.is_dir() else Path.cwd() / "policies"
