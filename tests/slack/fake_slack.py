"""A fake Slack Web API on a real local port: what the bot under test talks to through ``slack_sdk.WebClient``.

It keeps channels, threads and people, records every call, and can be scripted to answer the next calls of a
method with a 429 (``Retry-After``), an HTTP error or a Slack error (``{"ok": false, "error": ...}``).

    with FakeSlack() as slack:
        slack.add_bot(token="xoxb-a", team_id="TA", user_id="UBOT", bot_id="BBOT", name="officeai")
        slack.add_user("U1", name="alice", email="alice@alpha.example")
        parent = slack.add_message("C1", user="U1", text="<@UBOT> hi")
        ...  # point settings.SLACK_API_BASE_URL at slack.url
        slack.calls_to("chat.postMessage")

Run it on its own: ``python -m tests.slack.fake_slack --port 8766``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlparse


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str
    status: int = 200
    ok: bool = True


@dataclass
class Failure:
    status: int = 200
    error: str = ""  # Slack's error code for {"ok": false}
    retry_after: int | None = None


@dataclass
class Bot:
    token: str
    team_id: str
    user_id: str
    bot_id: str
    name: str


@dataclass
class FakeSlack:
    port: int = 0
    replies_page_size: int = 100  # conversations.replies page size (small values force pagination)
    calls: list[Call] = field(default_factory=list)
    bots: dict[str, Bot] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failures: dict[str, deque[Failure]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._ts = itertools.count(1)
        self._base = int(time.time())
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- set-up ---------------------------------------------------------------------------------------------------
    def add_bot(self, *, token: str, team_id: str, user_id: str, bot_id: str, name: str) -> Bot:
        bot = Bot(token, team_id, user_id, bot_id, name)
        self.bots[token] = bot
        self.users[user_id] = {"id": user_id, "name": name, "is_bot": True, "profile": {"display_name": name}}
        return bot

    def add_user(self, user_id: str, *, name: str, email: str = "") -> None:
        profile: dict[str, Any] = {"display_name": name, "real_name": name.title()}
        if email:
            profile["email"] = email
        self.users[user_id] = {"id": user_id, "name": name, "is_bot": False, "profile": profile}

    def next_ts(self) -> str:
        return f"{self._base}.{next(self._ts):06d}"

    def add_message(
        self, channel: str, *, user: str, text: str, thread_ts: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """A message someone posted (the test then delivers the matching event)."""
        message: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": self.next_ts(), **extra}
        if thread_ts:
            message["thread_ts"] = thread_ts
        with self._lock:
            self.channels.setdefault(channel, []).append(message)
        return dict(message)

    def fail(self, method: str, *failures: Failure) -> None:
        """The next calls of ``method`` get these answers, in order, then normal ones again."""
        with self._lock:
            self.failures.setdefault(method, deque()).extend(failures)

    # -- inspection -----------------------------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        with self._lock:
            messages = self.channels.get(channel, [])
            return sorted(
                (dict(m) for m in messages if m["ts"] == ts or m.get("thread_ts") == ts), key=lambda m: m["ts"]
            )

    def bot_messages(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return [m for m in self.thread(channel, ts) if m.get("bot_id")]

    # -- Web API methods -------------------------------------------------------------------------------------------
    def _handle(self, method: str, params: dict[str, Any], token: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            queue = self.failures.get(method)
            failure = queue.popleft() if queue else None
        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            status = 429 if failure.retry_after is not None else failure.status
            return (
                status,
                {"ok": False, "error": failure.error or ("ratelimited" if status == 429 else "fatal_error")},
                headers,
            )
        bot = self.bots.get(token)
        if bot is None:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return 200, handler(bot, params), {}

    def _auth_test(self, bot: Bot, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{bot.team_id.lower()}.slack.com/",
            "team": bot.team_id,
            "user": bot.name,
            "team_id": bot.team_id,
            "user_id": bot.user_id,
            "bot_id": bot.bot_id,
        }

    def _chat_postMessage(self, bot: Bot, params: dict[str, Any]) -> dict[str, Any]:
        channel, text = str(params.get("channel") or ""), str(params.get("text") or "")
        if not channel or not text:
            return {"ok": False, "error": "channel_not_found" if not channel else "no_text"}
        message: dict[str, Any] = {
            "type": "message",
            "user": bot.user_id,
            "bot_id": bot.bot_id,
            "text": text,
            "ts": self.next_ts(),
        }
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        with self._lock:
            self.channels.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": dict(message)}

    def _chat_update(self, bot: Bot, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(params.get("channel") or ""), str(params.get("ts") or "")
        with self._lock:
            for message in self.channels.get(channel, []):
                if message["ts"] == ts:
                    if message.get("user") != bot.user_id:
                        return {"ok": False, "error": "cant_update_message"}
                    message["text"] = str(params.get("text") or "")
                    return {"ok": True, "channel": channel, "ts": ts, "text": message["text"]}
        return {"ok": False, "error": "message_not_found"}

    def _conversations_replies(self, bot: Bot, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(params.get("channel") or ""), str(params.get("ts") or "")
        thread = self.thread(channel, ts)
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        size = min(int(params.get("limit") or 100), self.replies_page_size)
        start = int(params.get("cursor") or 0) if str(params.get("cursor") or "0").isdigit() else 0
        page = thread[start : start + size]
        more = start + size < len(thread)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + size) if more else ""},
        }

    def _users_info(self, bot: Bot, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user") or ""))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    # -- HTTP -----------------------------------------------------------------------------------------------------
    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parsed = urlparse(self.path)
                method = parsed.path.strip("/").split("/")[-1]
                params: dict[str, Any] = dict(parse_qsl(parsed.query))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if raw:
                    if "json" in (self.headers.get("Content-Type") or ""):
                        params.update(json.loads(raw))
                    else:
                        params.update(dict(parse_qsl(raw.decode())))
                auth = self.headers.get("Authorization") or ""
                token = auth.removeprefix("Bearer ").strip() or str(params.pop("token", ""))
                status, body, headers = fake._handle(method, params, token)
                with fake._lock:
                    fake.calls.append(Call(method, params, token, status, bool(body.get("ok"))))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve  # noqa: N815 - http.server's names

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-slack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--token", default="xoxb-dev")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    with FakeSlack(port=args.port) as slack:
        slack.add_bot(token=args.token, team_id="TDEV", user_id="UBOT", bot_id="BBOT", name="officeai")
        print(f"fake Slack at {slack.url} (token {args.token}); Ctrl-C to stop")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
