"""Smoke client for a running Office AI in embedded mode (`make smoke`, .ci/smoke): what a new user does first.

    python -m tests.smoke --url http://127.0.0.1:8000

1. the health check answers;
2. dev sign-in as a seeded user, as the page does it (CSRF token from the form, session cookie back);
3. the chat page loads for that user;
4. a websocket chat with the built-in model: ``session.ready``, ``chat.send``, deltas, ``chat.done`` with status
   ``ok`` and text equal to the deltas put together.

Prints one line per step and exits 0 when every step held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from urllib.parse import urlsplit

import aiohttp

USER = "demo@demo.example"


class SmokeError(Exception):
    """A step did not hold; the message names it."""


async def smoke(url: str, *, email: str = USER, wait: float = 60.0) -> dict[str, object]:
    """Run every step against ``url``, each given ``wait`` seconds; raises SmokeError naming the step that failed."""
    base = url.rstrip("/")
    origin = f"{urlsplit(base).scheme}://{urlsplit(base).netloc}"
    jar = aiohttp.CookieJar(unsafe=True)  # 127.0.0.1 cookies
    async with aiohttp.ClientSession(cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=wait)) as http:
        async with http.get(f"{base}/healthz") as response:
            if response.status != 200:
                raise SmokeError(f"healthz answered {response.status}")
        print("ok  healthz", flush=True)

        async with http.get(f"{base}/accounts/dev-signin/") as response:
            page = await response.text()
            if response.status != 200:
                raise SmokeError(f"dev sign-in page answered {response.status} (is this the embedded mode?)")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if token is None or email not in page:
            raise SmokeError(f"dev sign-in page has no form or does not list {email}")
        form = {"csrfmiddlewaretoken": token.group(1), "email": email}
        headers = {"Referer": f"{base}/accounts/dev-signin/", "Origin": origin}
        async with http.post(f"{base}/accounts/dev-signin/", data=form, headers=headers) as response:
            if response.status != 200 or "sessionid" not in {c.key for c in jar}:
                raise SmokeError(f"dev sign-in as {email} failed ({response.status})")
        print(f"ok  dev sign-in as {email}", flush=True)

        async with http.get(f"{base}/") as response:
            page = await response.text()
            if response.status != 200 or 'data-testid="composer"' not in page:
                raise SmokeError(f"chat page answered {response.status} without a composer")
        print("ok  chat page", flush=True)

        ws_url = base.replace("http", "ws", 1) + "/ws/"
        async with http.ws_connect(ws_url, headers={"Origin": origin}) as ws:
            ready = await ws.receive_json(timeout=wait)
            if ready.get("type") != "session.ready":
                raise SmokeError(f"first websocket frame was {ready.get('type')!r}, not session.ready")
            await ws.send_str(
                json.dumps(
                    {"type": "chat.send", "request_id": "smoke", "conversation_id": None, "text": "Hello from smoke"}
                )
            )
            text, deltas = "", 0
            while True:
                frame = await ws.receive_json(timeout=wait)
                kind = frame.get("type")
                if kind in ("chat.delta", "chat.snapshot"):  # placed by offset, as the page does
                    text = text[: frame["offset"]] + frame["text"]
                    deltas += 1
                elif kind == "error":
                    raise SmokeError(f"error frame: {frame.get('code')}: {frame.get('message')}")
                elif kind == "chat.done":
                    break
            if frame.get("status") != "ok" or not text.strip() or frame.get("end") not in (None, len(text)):
                raise SmokeError(f"chat.done status {frame.get('status')!r}, {len(text)} characters, {deltas} deltas")
        print(f"ok  websocket chat: {deltas} deltas, {len(text)} characters, chat.done ok", flush=True)
        return {"deltas": deltas, "text": text, "status": frame.get("status")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--email", default=USER)
    args = parser.parse_args()
    try:
        asyncio.run(smoke(args.url, email=args.email))
    except (SmokeError, aiohttp.ClientError, TimeoutError, OSError) as exc:
        print(f"FAIL {type(exc).__name__}: {exc}", flush=True)
        sys.exit(1)
    print("smoke: all steps held", flush=True)


if __name__ == "__main__":
    main()
