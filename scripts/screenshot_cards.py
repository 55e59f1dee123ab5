"""Retake docs/img/cards.png: the web page /app reviewing the bundled example plan.

Starts `parallizer serve` on a free loopback port (offline: the PARALLIZER_*, PERPLEXITY_*
and OPENAI_* variables and the .env file are left out, so the picture shows what anyone gets
with no key), opens `/app?scope=<this checkout>&plan=examples/plan.md` in Debian's chromium
through Playwright (never a downloaded browser), waits until the request is done and its
cards and the review's underlines are shown, saves the screenshot, and stops the server.

    .venv/bin/python scripts/screenshot_cards.py [--out docs/img/cards.png]

Needs the test extras (`make test` installs Playwright) and `/usr/bin/chromium`
(`apt-get install -y chromium`).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
PARALLIZER = Path(sys.executable).with_name("parallizer")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip
SETTINGS_PREFIXES = ("PARALLIZER_", "PERPLEXITY_", "OPENAI_")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}
    env.update(
        PARALLIZER_ENV_FILE="",  # no .env either
        PARALLIZER_ALLOWED_ROOTS=str(ROOT),
        PARALLIZER_LOG_LEVEL="WARNING",
    )
    return env


def wait_healthy(base: str, server: subprocess.Popen[bytes], within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"parallizer serve exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    sys.exit(f"parallizer serve did not answer /health within {within:g} s")


def shoot(base: str, out: Path, chromium: str, width: int, height: int) -> None:
    from playwright.sync_api import sync_playwright

    url = f"{base}/app?scope={quote(str(ROOT))}&plan=examples/plan.md"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.emulate_media(color_scheme="light")
            page.goto(url)
            # the first review runs once the plan is loaded: wait for its end and its cards
            page.locator("#status[data-kind=ok]", has_text="new cards").wait_for(timeout=60_000)
            page.locator(".card[data-type=question]").first.wait_for()
            page.locator("#timing rect.bar").first.wait_for()
            # and the review's underlines (POST /review answers beside the stream)
            page.locator('#findings[data-reviewing="0"][data-review]').wait_for()
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
        finally:
            browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "cards.png")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--width", type=int, default=1600)
    ap.add_argument("--height", type=int, default=1000)
    args = ap.parse_args()
    if not Path(args.chromium).exists():
        sys.exit(f"no browser at {args.chromium} (apt-get install -y chromium)")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(PARALLIZER), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=offline_env(),
    )
    try:
        wait_healthy(base, server, within=60)
        shoot(base, args.out, args.chromium, args.width, args.height)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
