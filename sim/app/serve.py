"""How ``leftshift app`` starts Streamlit: the command, its settings, its environment.

The server listens on 127.0.0.1 unless told otherwise, refuses uploads over a megabyte,
sends no usage statistics and opens no browser of its own; the command is a list of
arguments run without a shell.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from . import CONFIGS_ENV
from .sources import MAX_UPLOAD_BYTES

PAGE = Path(__file__).with_name("page.py")
DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 8501


def command(address: str = DEFAULT_ADDRESS, port: int = DEFAULT_PORT) -> list[str]:
    """The arguments that serve the app with this Python's Streamlit."""
    upload_mb = max(1, math.ceil(MAX_UPLOAD_BYTES / 1_000_000))
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PAGE),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.maxUploadSize",
        str(upload_mb),
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",  # no Deploy button: the app is local
        "--runner.magicEnabled",
        "false",
        "--global.developmentMode",
        "false",
    ]


def environment(configs: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The server's environment: this one, with the scenario library it offers."""
    env = dict(os.environ if base is None else base)
    env[CONFIGS_ENV] = str(configs.resolve())
    return env
