"""Chat over websockets under load: N clients through daphne (1 or 2 processes on one Redis) against the openai
client reading the same upstream directly.

    python -m bench.ws_bench [--clients 1,10,50,100,200] [--processes 1,2] [--tokens 500] [--rate 50]
                             [--single-rounds 15] [--markdown]
    python -m bench.ws_bench --smoke      # 5 clients, 40 tokens at 200 tokens/s, 1 process; exit 0 iff all complete

Runs on real PostgreSQL and Redis (DATABASE_URL / REDIS_URL, defaulting to the local servers) in a throwaway
database, with the test upstream (tests/upstream) streaming ``--tokens`` one-word chunks at ``--rate`` per reply.
For each process count, daphne is started and warmed up, then for each N:

* direct: N concurrent ``openai.AsyncAzureOpenAI`` streams read the upstream (in a child process, so the client's
  parsing shares no GIL with the upstream, which runs in this process);
* websocket: N signed-in users, one socket each (spread round-robin over the daphne processes) and a new
  conversation each, send ``chat.send`` at once and read until ``chat.done``, in a second child process. Each client
  rebuilds the text by the protocol's offset rules (docs/websocket-protocol.md; rejoin with ``after`` on a gap, as
  static/js/chat/state.js does) and compares it with what the upstream sent.

For N < 5 one round is too few samples for a percentile, so each phase runs ``ceil(--single-rounds / N)`` rounds
in sequence (N=1: 15 replies one after another, on the same sockets and the same openai client, a new conversation
each) and the row merges them: percentiles over all replies of all rounds, CPU per token over all rounds, bytes and
database rows and connections per reply over all replies. So the N=1 row's +TTFT p50 is the median over 15
sequential replies, not one measurement. The database statistics settle once before the first round and once after
the last, not around every round.

Columns (every ratio is against the direct run with the same N, measured just before):
  compl x p50/p99  websocket completion time (chat.send to chat.done) / direct completion time
  +TTFT p50/p99    ms from chat.send to the first chat.delta, minus the direct time to first token
  CPU/tok x        daphne CPU (/proc/<pid>/stat, all processes) per relayed token / the direct client's CPU per token
  B/text B         bytes of websocket frames received for a reply (frame headers included) / UTF-8 bytes of the answer
  chat, audit rows rows inserted + updated + deleted per reply in the chat tables and in the audit tables
  conns            PostgreSQL connections opened per reply (pg_stat_database.sessions); n/a on SQLite
  bad              replies not rebuilt exactly as the upstream sent them (text lost, duplicated or garbled, or sent
                   twice with different text), out of all replies (N x rounds)
  gaps             deltas that started beyond the client's end (each one needs a rejoin)
  late             replies without chat.done within their round's time limit (a round that runs out ends the phase:
                   the rounds not run count as late and bad)

Every round of a phase has a time limit; the child processes also end themselves. Traffic goes to 127.0.0.1 only.
``run_smoke()`` runs the smoke configuration in-process (pytest: pass ``throwaway=False`` to use the test database).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import resource
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._django import percentile, setup_django, throwaway_database
from tests.upstream.server import UpstreamServer, stream_tokens

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key"
DEPLOYMENT = "bench"
API_VERSION = "2024-10-21"
ORIGIN = "http://127.0.0.1"
QUESTION = "Count for me, one word at a time."
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
CONNECT_AT_ONCE = 10  # handshakes in flight: all N at once overrun daphne's handshake timeout (a DB read each)
DIRECT_WARM_UP = 3  # serial direct streams before measuring: imports, the first connection
REJOIN_WAIT = 5.0  # static/js/chat/main.js REJOIN_TIMEOUT_MS: a rejoin without a snapshot by then is sent again
STATS_IDLE_FLUSH = 10.5  # seconds until every idle PostgreSQL backend has reported its statistics (PgStats)
MARK = "@wsbench "  # prefix of the protocol lines a child writes on stdout (anything else there is ignored)
SMALL_N = 5  # below this many clients a phase runs several rounds in sequence (rounds_for)
SINGLE_ROUNDS = 15  # replies wanted per phase for a small N: --single-rounds
ROUND_PAUSE = 0.2  # seconds between rounds: the previous reply's last steps in daphne (after chat.done) are done


def expected_text(tokens: int) -> str:
    """What ``stream_tokens(tokens)`` sends (tests/upstream/server.py ``_pieces``)."""
    return "".join(f" w{i}" for i in range(tokens))


def phase_limit(clients: int, tokens: int, rate: float) -> float:
    """Seconds one round of a measured phase may take: the stream thrice over plus headroom growing with N."""
    return 30 + 3 * tokens / rate + 0.2 * clients


def rounds_for(clients: int, single_rounds: int) -> int:
    """Rounds in sequence for N clients: enough for about ``single_rounds`` replies when N < SMALL_N, else one."""
    return max(1, math.ceil(single_rounds / clients)) if clients < SMALL_N else 1


def frame_size(payload: str) -> int:
    """Bytes of an unmasked server-to-client websocket text frame: header + UTF-8 payload."""
    size = len(payload.encode())
    return size + 2 + (2 if 126 <= size < 65536 else 0) + (8 if size >= 65536 else 0)


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


async def _timed_round(
    tasks: list[asyncio.Task[Any]], gate: asyncio.Event, limit: float
) -> tuple[set[asyncio.Task[Any]], set[asyncio.Task[Any]], float, float]:
    """Release every client at once and wait for them: (finished, pending, own CPU seconds, wall seconds)."""
    cpu_before, started = own_cpu_seconds(), time.perf_counter()
    gate.set()
    finished, pending = await asyncio.wait(tasks, timeout=limit)
    return finished, pending, own_cpu_seconds() - cpu_before, time.perf_counter() - started


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- Samples (plain data: they cross from the child processes as JSON) -------------------------------------------
@dataclass
class DirectSample:
    ttft: float | None  # seconds from the call to the first text
    total: float | None  # seconds from the call to the end of the stream; None: not finished in time
    chars: int
    complete: bool  # the text is exactly the upstream's


@dataclass
class WsSample:
    """One socket's reply, filled in as frames arrive (a timed-out reply still shows how far it got)."""

    sent: bool = False  # chat.send went out
    accepted: float | None = None  # seconds from chat.send to chat.accepted
    ttft: float | None = None  # seconds from chat.send to the first chat.delta / chat.snapshot
    total: float | None = None  # seconds from chat.send to chat.done; None: no chat.done
    status: str = ""  # chat.done status
    error: str = ""  # an error frame's code, or why the socket gave up
    message_id: int | None = None
    end: int = 0  # code points the client has put together
    done_end: int | None = None  # chat.done's ``end``
    verdict: str = ""  # "complete", "incomplete" (a prefix of the upstream's text) or "wrong"
    bytes_total: int = 0  # every frame received from chat.send on: payload + frame header
    frames: int = 0  # chat.delta and chat.snapshot frames
    gaps: int = 0  # deltas that started beyond ``end``
    rejoins: int = 0  # chat.join sent to recover
    conflicts: int = 0  # overlapping text that differed from the text the client already had (garbled)


# --- Child processes: the direct clients and the websocket clients ------------------------------------------------
def _emit(event: str, **data: Any) -> None:
    sys.stdout.write(MARK + json.dumps({"event": event, **data}) + "\n")
    sys.stdout.flush()


def child_main(kind: str) -> None:
    """Entry point of a child (``python -m bench.ws_bench --child direct|ws``): its config is the first stdin line."""
    config = json.loads(sys.stdin.readline())
    # Ends itself even if the parent is gone or stuck: the default SIGALRM action terminates the process.
    rounds = config.get("rounds", 1)
    signal.alarm(int(rounds * (config["limit"] + ROUND_PAUSE) + config.get("connect_limit", 0) + 180))
    if kind == "direct":
        asyncio.run(_direct_child(config))
    else:
        asyncio.run(_ws_child(config))


async def _direct_one(client: Any, gate: asyncio.Event, tokens: int, sample: DirectSample) -> None:
    await gate.wait()
    start = time.perf_counter()
    parts: list[str] = []
    stream = await client.chat.completions.create(
        model=DEPLOYMENT,
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
        max_tokens=4096,
    )
    async with stream:
        async for chunk in stream:
            # The guards any correct reader of Azure needs (empty choices, missing delta) and no more.
            if chunk.choices and chunk.choices[0].delta is not None and chunk.choices[0].delta.content:
                if sample.ttft is None:
                    sample.ttft = time.perf_counter() - start
                parts.append(chunk.choices[0].delta.content)
    sample.total = time.perf_counter() - start
    text = "".join(parts)
    sample.chars, sample.complete = len(text), text == expected_text(tokens)


async def _direct_child(config: dict[str, Any]) -> None:
    import openai

    client = openai.AsyncAzureOpenAI(
        azure_endpoint=config["url"],
        azure_deployment=DEPLOYMENT,
        api_version=API_VERSION,
        api_key=KEY,
        max_retries=0,
        timeout=config["limit"],
    )
    failures: list[str] = []
    try:
        now = asyncio.Event()
        now.set()
        for _ in range(config["warm_up"]):
            await _direct_one(client, now, config["warm_up_tokens"], DirectSample(None, None, 0, False))
        samples: list[DirectSample] = []
        cpu = wall = 0.0  # summed over the rounds (the pauses between them excluded)
        rounds = config["rounds"]
        for round_index in range(rounds):
            if round_index:
                await asyncio.sleep(ROUND_PAUSE)
            gate = asyncio.Event()
            batch = [DirectSample(None, None, 0, False) for _ in range(config["clients"])]
            tasks = [asyncio.create_task(_direct_one(client, gate, config["tokens"], s)) for s in batch]
            finished, pending, spent, took = await _timed_round(tasks, gate, config["limit"])
            cpu, wall = cpu + spent, wall + took
            samples += batch
            for task in pending:
                task.cancel()
            failures += [f"direct: {t.exception()!r}"[:300] for t in finished if t.exception() is not None]
            if pending:
                failures.append(f"direct: {len(pending)} streams unfinished after {config['limit']:.0f} s")
                if round_index + 1 < rounds:
                    failures.append(f"direct: stopped after round {round_index + 1} of {rounds}")
                break
        _emit("result", samples=[asdict(s) for s in samples], failures=failures, cpu=cpu, wall=wall)
    finally:
        await client.close()


async def _ws_open(
    session: Any, url: str, cookie_name: str, cookie: str, limiter: asyncio.Semaphore
) -> tuple[Any, float]:
    """A signed-in socket, after its session.ready; and how long the handshake took."""
    import aiohttp

    async with limiter, asyncio.timeout(30):
        start = time.perf_counter()
        ws = await session.ws_connect(
            url, headers={"Origin": ORIGIN, "Cookie": f"{cookie_name}={cookie}"}, heartbeat=None, max_msg_size=0
        )
        message = await ws.receive()
        if message.type != aiohttp.WSMsgType.TEXT or json.loads(message.data).get("type") != "session.ready":
            await ws.close()
            raise RuntimeError(f"no session.ready: {message.type} {str(message.data)[:200]}")
        return ws, time.perf_counter() - start


async def _ws_reply(ws: Any, index: str, expected: str, gate: asyncio.Event, s: WsSample, quiet_after: float) -> None:
    """One reply, read as static/js/chat/ reads it: drop overlaps by offset; on a gap, one rejoin with ``after`` at
    a time (sent again when no snapshot comes within REJOIN_WAIT; the page reloads the conversation instead). Unlike
    the page, a silence once ``quiet_after`` seconds have passed (the upstream is done by then) also rejoins, backing
    off 5, 10, 20 … s: a lost chat.done (a rejoin to a finished reply brings it) must not hang the benchmark."""
    import aiohttp

    await gate.wait()
    start = time.perf_counter()
    text = ""
    conversation_id: int | None = None
    awaiting_since: float | None = None  # a rejoin is out and no snapshot has answered it yet
    backoff = 5.0

    async def rejoin() -> None:
        nonlocal awaiting_since
        s.rejoins += 1
        awaiting_since = time.perf_counter()
        after = {"message_id": s.message_id, "end": s.end}
        await ws.send_str(json.dumps({"type": "chat.join", "conversation_id": conversation_id, "after": after}))

    def judge() -> None:
        if text == expected:  # and the server agrees with itself: its count in chat.done, any text sent twice
            s.verdict = "complete" if s.done_end in (None, len(expected)) and not s.conflicts else "wrong"
        else:
            s.verdict = "incomplete" if expected.startswith(text) else "wrong"

    try:
        await ws.send_str(
            json.dumps({"type": "chat.send", "request_id": f"r{index}", "conversation_id": None, "text": QUESTION})
        )
        s.sent = True
        while True:
            try:
                message = await ws.receive(timeout=REJOIN_WAIT)
            except TimeoutError:
                if s.message_id is not None and time.perf_counter() - start > quiet_after:
                    quiet_after = time.perf_counter() - start + backoff
                    backoff *= 2
                    await rejoin()
                continue
            if message.type != aiohttp.WSMsgType.TEXT:
                s.error = f"socket {message.type.name} before chat.done"
                return
            now = time.perf_counter()
            s.bytes_total += frame_size(message.data)
            frame = json.loads(message.data)
            kind = frame.get("type")
            if kind == "chat.accepted":
                s.accepted = now - start
                conversation_id, s.message_id = frame["conversation"]["id"], frame["assistant_message_id"]
            elif kind in ("chat.delta", "chat.snapshot") and frame.get("message_id") == s.message_id:
                s.frames += 1
                if s.ttft is None:
                    s.ttft = now - start
                if kind == "chat.snapshot":
                    awaiting_since = None
                offset, end, piece = frame["offset"], frame["end"], frame["text"]
                overlap = min(end, s.end) - offset
                if overlap > 0 and piece[:overlap] != text[offset : offset + overlap]:
                    s.conflicts += 1  # the server sent different text for offsets the client already had
                if end <= s.end:
                    continue
                if offset > s.end:
                    s.gaps += 1
                    if awaiting_since is None or now - awaiting_since > REJOIN_WAIT:
                        await rejoin()
                    continue
                text += piece[s.end - offset :]
                s.end = end
            elif kind == "chat.done" and frame.get("message_id") == s.message_id:
                s.total, s.status, s.done_end = now - start, frame["status"], frame["end"]
                return
            elif kind == "error" and frame.get("code") != "rate_limited":  # a rate-limited rejoin: timers retry
                s.error = str(frame.get("code"))
                if s.message_id is None:
                    return  # chat.send itself was refused
    finally:
        judge()


async def _wait_for_go(sockets: list[Any]) -> str:
    """The parent's next line. Meanwhile (the parent waits for database statistics to settle) every socket sends
    the protocol's ``ping`` every 10 s and reads its ``pong``, as the page does when quiet: aiohttp answers daphne's
    own pings only inside ``receive()``, and daphne drops a socket that leaves one unanswered."""

    async def ping(ws: Any) -> None:
        await ws.send_str('{"type": "ping"}')
        while json.loads((await ws.receive(timeout=10)).data).get("type") != "pong":
            pass

    line = asyncio.ensure_future(asyncio.to_thread(sys.stdin.readline))
    while not (await asyncio.wait({line}, timeout=10))[0]:
        await asyncio.gather(*(ping(ws) for ws in sockets), return_exceptions=True)
    return line.result().strip()


async def _ws_child(config: dict[str, Any]) -> None:
    import aiohttp

    urls, cookies, clients = config["urls"], config["cookies"], config["clients"]
    expected = expected_text(config["tokens"])
    sockets: list[Any] = []
    failures: list[str] = []
    connector = aiohttp.TCPConnector(limit=0)  # the default pool of 100 would hold back the other sockets
    async with aiohttp.ClientSession(connector=connector) as session:
        try:
            limiter = asyncio.Semaphore(CONNECT_AT_ONCE)
            opened: list[Any]
            try:
                async with asyncio.timeout(config["connect_limit"]):
                    opened = await asyncio.gather(
                        *(
                            _ws_open(session, urls[i % len(urls)], config["cookie_name"], cookies[i], limiter)
                            for i in range(clients)
                        ),
                        return_exceptions=True,
                    )
            except TimeoutError:
                opened = [TimeoutError(f"handshakes unfinished after {config['connect_limit']:.0f} s")]
            sockets = [item[0] for item in opened if not isinstance(item, BaseException)]
            handshakes = [item[1] for item in opened if not isinstance(item, BaseException)]
            failures += [f"connect: {item!r}"[:300] for item in opened if isinstance(item, BaseException)]
            _emit("ready", opened=len(sockets), handshakes=handshakes, compressed=any(ws.compress for ws in sockets))
            if await _wait_for_go(sockets) != "go":
                return  # the parent gave up
            samples: list[WsSample] = []
            cpu = wall = 0.0  # summed over the rounds (the pauses between them excluded)
            quiet_after = config["tokens"] / config["rate"] + 5  # the upstream has sent everything by then
            rounds = config["rounds"]
            for round_index in range(rounds):
                if round_index:
                    await asyncio.sleep(ROUND_PAUSE)
                gate = asyncio.Event()
                batch = [WsSample() for _ in sockets]
                tasks = [
                    asyncio.create_task(_ws_reply(ws, f"r{round_index}-{i}", expected, gate, sample, quiet_after))
                    for i, (ws, sample) in enumerate(zip(sockets, batch, strict=True))
                ]
                finished, pending, spent, took = await _timed_round(tasks, gate, config["limit"])
                cpu, wall = cpu + spent, wall + took
                samples += batch
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)  # runs each reply's judge()
                failures += [f"reply: {t.exception()!r}"[:300] for t in finished if t.exception() is not None]
                if pending:  # a reply still running in daphne would load the next round: stop here
                    if round_index + 1 < rounds:
                        failures.append(f"reply: stopped after round {round_index + 1} of {rounds} (late replies)")
                    break
            _emit("result", samples=[asdict(s) for s in samples], failures=failures, cpu=cpu, wall=wall)
        finally:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(15):
                    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


class Child:
    """A child process of this module speaking JSON lines: config and commands on stdin, events on stdout."""

    def __init__(self, kind: str, config: dict[str, Any]) -> None:
        # A fixed command of this interpreter and module: nothing from outside reaches the arguments.
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "bench.ws_bench", "--child", kind],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.kind = kind
        self.buffer = b""
        self.send(json.dumps(config))

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        """The next event line, within ``timeout`` seconds (raw reads: a buffered reader would hide data from
        select)."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                if line.startswith(MARK.encode()):
                    data: dict[str, Any] = json.loads(line[len(MARK) :])
                    if data["event"] != event:
                        raise RuntimeError(f"{self.kind} child: expected {event}, got {data['event']}")
                    return data
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.kind} child: no {event} within {timeout:.0f} s")
            if select.select([fd], [], [], remaining)[0]:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"{self.kind} child exited ({self.process.wait()}) before {event}")
                self.buffer += chunk

    def stop(self, timeout: float = 20) -> None:
        """Let it close its sockets and exit; kill it (this process only) if it does not in time."""
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


# --- The database: statistics views -----------------------------------------------------------------------------
@dataclass
class DbCounters:
    tables: dict[str, int]  # relname -> rows inserted + updated + deleted
    sessions: int  # connections opened to the database


@dataclass
class DbDelta:
    chat: float  # rows written per reply in the chat tables
    audit: float  # ... in the audit tables
    other: float  # ... anywhere else (sessions, users: expected 0 while replies run)
    sessions: float  # connections opened per reply


class PgStats:
    """A psycopg connection of its own for the statistics views (never one Django or daphne uses); opened before
    anything is measured, so it is not counted among the sessions."""

    def __init__(self) -> None:
        import psycopg
        from django.apps import apps
        from django.db import connection

        db = connection.settings_dict
        self.conn = psycopg.connect(
            dbname=db["NAME"],
            user=db.get("USER") or "postgres",
            password=db.get("PASSWORD") or None,
            host=db.get("HOST") or "127.0.0.1",
            port=db.get("PORT") or 5432,
            autocommit=True,
        )
        self.force_flush = self.conn.info.server_version >= 150000
        self.app_tables = {
            label: {m._meta.db_table for m in apps.get_app_config(label).get_models(include_auto_created=True)}
            for label in ("chat", "audit")
        }

    def version(self) -> str:
        with self.conn.cursor() as cur:
            cur.execute("SHOW server_version")
            row = cur.fetchone()
        return str(row[0]).split()[0] if row else "?"

    def read(self) -> DbCounters:
        with self.conn.cursor() as cur:
            if self.force_flush:
                cur.execute("SELECT pg_stat_force_next_flush()")
            cur.execute("SELECT pg_stat_clear_snapshot()")
            cur.execute("SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables")
            tables = {str(name): int(rows) for name, rows in cur.fetchall()}
            cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
            row = cur.fetchone()
        return DbCounters(tables, int(row[0]) if row else 0)

    def settled(self, seconds: float = 10.0) -> DbCounters:
        """Other backends report their statistics late: a backend that flushed less than a second ago and then
        goes idle holds them back for PGSTAT_IDLE_INTERVAL (10 s, PostgreSQL 15+), and daphne's pooled connections
        stay open and idle. So wait that out, then read until two reads a second apart agree."""
        time.sleep(STATS_IDLE_FLUSH)
        previous = self.read()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(1.0)
            current = self.read()
            if current == previous:
                return current
            previous = current
        return previous

    def delta(self, before: DbCounters, after: DbCounters, replies: int) -> DbDelta:
        written = {name: rows - before.tables.get(name, 0) for name, rows in after.tables.items()}
        chat = sum(rows for name, rows in written.items() if name in self.app_tables["chat"])
        audit = sum(rows for name, rows in written.items() if name in self.app_tables["audit"])
        other = sum(written.values()) - chat - audit
        n = max(replies, 1)
        return DbDelta(chat / n, audit / n, other / n, (after.sessions - before.sessions) / n)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


def streaming_replies(message_ids: list[int]) -> int:
    """Replies of this phase still running in daphne (a timed-out phase's replies go on there)."""
    from chat.models import Message

    return Message.objects.filter(pk__in=message_ids, status=Message.Status.STREAMING).count()


def saved_wrong(message_ids: list[int], expected: str) -> int:
    """Finished replies whose saved text is not the upstream's."""
    from chat.models import Message

    rows = Message.objects.filter(pk__in=message_ids).exclude(status=Message.Status.STREAMING)
    return sum(1 for content in rows.values_list("content", flat=True) if content != expected)


# --- The world: a tenant, signed-in users, a model version served by the upstream ---------------------------------
def make_world(upstream: UpstreamServer, users: int) -> list[str]:
    """Returns one session cookie per user."""
    from django.test import Client

    from llm.models import Deployment, ModelVersion, ModelVersionAccess, ModelVersionDeployment, ProviderKind
    from tenants.services import tenant_create, user_create

    tag = uuid.uuid4().hex[:8]  # unique names: a test database may hold other tenants and deployments
    domain = f"wsbench-{tag}.example"
    tenant = tenant_create(name=f"WS bench {tag}", slug=f"wsbench-{tag}", domains=[domain])
    deployment = Deployment.objects.create(
        label=f"wsbench-{tag}",
        kind=ProviderKind.AZURE_DATED,
        endpoint=upstream.url,
        deployment_name=DEPLOYMENT,
        api_version=API_VERSION,
        api_key=KEY,
        first_token_timeout=60,
        stall_timeout=60,
    )
    version = ModelVersion.objects.create(display_name="GPT-4o", family="gpt-4o", version="2024-11-20")
    ModelVersionDeployment.objects.create(model_version=version, deployment=deployment, priority=0)
    ModelVersionAccess.objects.create(model_version=version, tenant=tenant, is_default=True)
    cookies = []
    for index in range(users):
        user = user_create(tenant=tenant, email=f"user{index}@{domain}")
        client = Client()
        client.force_login(user, backend="tenants.backends.TenantModelBackend")
        cookies.append(client.cookies[session_cookie_name()].value)
    return cookies


def session_cookie_name() -> str:
    from django.conf import settings

    return str(settings.SESSION_COOKIE_NAME)


# --- Phases -------------------------------------------------------------------------------------------------------
@dataclass
class DirectPhase:
    samples: list[DirectSample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    cpu: float = 0.0  # the child's CPU seconds while streaming
    wall: float = 0.0


@dataclass
class WsPhase:
    samples: list[WsSample] = field(default_factory=list)  # one per socket that opened
    failures: list[str] = field(default_factory=list)
    handshakes: list[float] = field(default_factory=list)
    compressed: bool = False
    wall: float = 0.0
    client_cpu: float = 0.0  # the websocket clients' child
    daphne_cpu: float = 0.0  # all daphne processes
    upstream_cpu: float = 0.0  # this process: the upstream's thread, mostly
    db: DbDelta | None = None
    saved_wrong: int | None = None
    still_streaming: int = 0
    over_capacity: int = 0  # daphne log lines about a channel-layer queue over capacity (frames dropped)


@dataclass
class Bench:
    """What the phases share: the upstream, the daphne processes, the users, the statistics connection."""

    upstream: UpstreamServer
    cookies: list[str]
    stats: PgStats | None
    daphnes: list[Any] = field(default_factory=list)
    verbose: bool = True

    def say(self, text: str) -> None:
        if self.verbose:
            print(text, flush=True)


def direct_phase(bench: Bench, clients: int, tokens: int, rate: float, limit: float, *, rounds: int = 1) -> DirectPhase:
    """N concurrent streams, ``rounds`` times in sequence (one child, one client, warmed up once); ``limit``
    seconds per round."""
    warm = [stream_tokens(5)] * DIRECT_WARM_UP
    bench.upstream.reset()
    bench.upstream.script(DEPLOYMENT, *warm, *[stream_tokens(tokens, rate)] * (clients * rounds))
    config = {
        "url": bench.upstream.url,
        "clients": clients,
        "rounds": rounds,
        "tokens": tokens,
        "limit": limit,
        "warm_up": DIRECT_WARM_UP,
        "warm_up_tokens": 5,
    }
    child = Child("direct", config)
    try:
        result = child.expect("result", rounds * (limit + ROUND_PAUSE) + 60)
    except (TimeoutError, RuntimeError) as exc:
        return DirectPhase(failures=[str(exc)])
    finally:
        child.stop()
        bench.upstream.reset()
    samples = [DirectSample(**s) for s in result["samples"]]
    failures = result["failures"]
    if broken := sum(1 for s in samples if s.total is not None and not s.complete):
        failures.append(f"direct: {broken} streams ended with text other than the upstream's")
    return DirectPhase(samples, failures, result["cpu"], result["wall"])


def over_capacity_lines(bench: Bench) -> int:
    """channels_redis logs each group_send that found a receiving channel full (and dropped the message)."""
    total = 0
    for daphne in bench.daphnes:
        if daphne.log_path.exists():
            with daphne.log_path.open("rb") as handle:
                total += sum(1 for line in handle if b"over capacity" in line)
    return total


def ws_phase(
    bench: Bench, clients: int, tokens: int, rate: float, limit: float, *, db: bool = True, rounds: int = 1
) -> WsPhase:
    """N sockets, one reply each, ``rounds`` times in sequence on the same sockets (``limit`` seconds per round).
    The database statistics settle once before the first round and once after the last."""
    bench.upstream.reset()
    bench.upstream.script(DEPLOYMENT, *[stream_tokens(tokens, rate)] * (clients * rounds))
    connect_limit = 60 + 0.5 * clients
    config = {
        "urls": [d.ws_url for d in bench.daphnes],
        "cookie_name": session_cookie_name(),
        "cookies": bench.cookies[:clients],
        "clients": clients,
        "rounds": rounds,
        "tokens": tokens,
        "rate": rate,
        "limit": limit,
        "connect_limit": connect_limit,
    }
    phase = WsPhase()
    pids = [d.process.pid for d in bench.daphnes]
    child = Child("ws", config)
    try:
        ready = child.expect("ready", connect_limit + 30)
        phase.handshakes, phase.compressed = ready["handshakes"], ready["compressed"]
        stats = bench.stats if db else None
        before = stats.settled() if stats is not None else None  # after the handshakes' DB work
        dropped = over_capacity_lines(bench)
        daphne_cpu, own_cpu, started = sum(map(process_cpu_seconds, pids)), own_cpu_seconds(), time.perf_counter()
        child.send("go")
        result = child.expect("result", rounds * (limit + ROUND_PAUSE) + 30)
        phase.daphne_cpu = sum(map(process_cpu_seconds, pids)) - daphne_cpu
        phase.upstream_cpu = own_cpu_seconds() - own_cpu
        phase.wall = time.perf_counter() - started
        phase.samples = [WsSample(**s) for s in result["samples"]]
        phase.failures += result["failures"]
        phase.client_cpu = result["cpu"]
        phase.over_capacity = over_capacity_lines(bench) - dropped
    except (TimeoutError, RuntimeError) as exc:
        phase.failures.append(str(exc))
        return phase
    finally:
        child.stop()
    # Replies the clients gave up on go on in daphne: wait for them, so their writes land in this phase's
    # numbers and their load does not spill into the next phase.
    ids = [s.message_id for s in phase.samples if s.message_id is not None]
    deadline = time.monotonic() + 60
    while (running := streaming_replies(ids)) and time.monotonic() < deadline:
        time.sleep(0.5)
    phase.still_streaming = running
    if before is not None and stats is not None:  # per reply, over the replies of all rounds
        phase.db = stats.delta(before, stats.settled(), len(ids))
    phase.saved_wrong = saved_wrong(ids, expected_text(tokens))
    bench.upstream.reset()
    return phase


# --- Rows and the table ---------------------------------------------------------------------------------------------
@dataclass
class Row:
    processes: int
    clients: int
    tokens: int
    rate: float
    limit: float
    direct: DirectPhase
    ws: WsPhase
    rounds: int = 1  # each phase ran this many rounds of N in sequence; samples, CPU, bytes, rows: all rounds

    def replies(self) -> int:
        """Replies asked for: N in each round."""
        return self.clients * self.rounds

    # Percentiles count a reply that never got there (no text, no chat.done) as infinitely late.
    def pct(self, samples: list[Any], name: str, q: float) -> float:
        return percentile([math.inf if getattr(s, name) is None else getattr(s, name) for s in samples], q)

    def completion_ratio(self, q: float) -> tuple[float, bool]:
        """(ratio, exact): not exact when the websocket percentile timed out (then the ratio is a lower bound)."""
        direct, ws = self.pct(self.direct.samples, "total", q), self.pct(self.ws.samples, "total", q)
        if math.isinf(ws):
            return self.limit / direct, False
        return ws / direct, True

    def added_ttft_ms(self, q: float) -> tuple[float, bool]:
        direct, ws = self.pct(self.direct.samples, "ttft", q), self.pct(self.ws.samples, "ttft", q)
        if math.isinf(ws):
            return (self.limit - direct) * 1e3, False
        return (ws - direct) * 1e3, True

    def relayed_tokens(self) -> float:
        per_token = len(expected_text(self.tokens)) / self.tokens
        return sum(s.end for s in self.ws.samples) / per_token

    def cpu_ratio(self) -> float:
        """Daphne CPU per relayed token / the direct client's CPU per token received."""
        direct_tokens = sum(s.chars for s in self.direct.samples) / (len(expected_text(self.tokens)) / self.tokens)
        relayed = self.relayed_tokens()
        if not relayed or not direct_tokens or not self.direct.cpu:
            return math.nan
        return (self.ws.daphne_cpu / relayed) / (self.direct.cpu / direct_tokens)

    def bytes_ratio(self) -> float:
        done = [s for s in self.ws.samples if s.total is not None]
        text = len(expected_text(self.tokens).encode()) * len(done)
        return sum(s.bytes_total for s in done) / text if text else math.nan

    def bad(self) -> int:
        """Replies not put together exactly, counting sockets that never opened or never sent, and rounds not run."""
        return self.replies() - sum(1 for s in self.ws.samples if s.sent and s.verdict == "complete")

    def late(self) -> int:
        return self.replies() - sum(1 for s in self.ws.samples if s.total is not None)

    def gaps(self) -> int:
        return sum(s.gaps for s in self.ws.samples)

    def ok(self) -> bool:
        return not self.bad() and not self.late() and all(s.status == "ok" for s in self.ws.samples)

    def cells(self) -> list[str]:
        def ratio(value: tuple[float, bool]) -> str:
            return f"{value[0]:.2f}" if value[1] else f">{value[0]:.1f}"

        def added(value: tuple[float, bool]) -> str:
            return f"{value[0]:+.0f}" if value[1] else f">{value[0]:.0f}"

        def number(value: float, digits: int) -> str:
            return "n/a" if math.isnan(value) else f"{value:.{digits}f}"

        have = bool(self.direct.samples and self.ws.samples)
        db = self.ws.db
        return [
            str(self.processes),
            str(self.clients),
            ratio(self.completion_ratio(50)) if have else "n/a",
            ratio(self.completion_ratio(99)) if have else "n/a",
            added(self.added_ttft_ms(50)) if have else "n/a",
            added(self.added_ttft_ms(99)) if have else "n/a",
            number(self.cpu_ratio(), 1),
            number(self.bytes_ratio(), 2),
            f"{db.chat:.1f}" if db else "n/a",
            f"{db.audit:.1f}" if db else "n/a",
            f"{db.sessions:.1f}" if db else "n/a",
            f"{self.bad()}/{self.replies()}",
            str(self.gaps()),
            str(self.late()),
        ]

    def details(self) -> str:
        """One line of the absolute numbers behind the ratios, for reading the table."""
        d, w = self.direct, self.ws

        def ms(samples: list[Any], name: str, q: float) -> str:
            value = self.pct(samples, name, q)
            return f">{self.limit * 1e3:.0f}" if math.isinf(value) else f"{value * 1e3:.0f}"

        parts = [f"{self.processes} proc, N={self.clients}:"]
        if self.rounds > 1:
            parts.append(
                f"{self.rounds} rounds in sequence, {self.replies()} replies per phase (percentiles are over all of"
                f" them: the p50 of {self.replies()} sequential replies);"
            )
        if d.samples:
            parts.append(
                f"direct TTFT {ms(d.samples, 'ttft', 50)}/{ms(d.samples, 'ttft', 99)} ms, completion"
                f" {ms(d.samples, 'total', 50)}/{ms(d.samples, 'total', 99)} ms, client {d.cpu / d.wall:.0%} of a core;"
            )
        if w.samples:
            tokens = self.relayed_tokens()
            parts.append(
                f"websocket accepted {ms(w.samples, 'accepted', 50)}/{ms(w.samples, 'accepted', 99)} ms, TTFT"
                f" {ms(w.samples, 'ttft', 50)}/{ms(w.samples, 'ttft', 99)} ms, completion"
                f" {ms(w.samples, 'total', 50)}/{ms(w.samples, 'total', 99)} ms (p50/p99);"
                f" daphne {w.daphne_cpu / w.wall:.0%} of a core"
                f" ({w.daphne_cpu / tokens * 1e6 if tokens else math.nan:.0f} us/token),"
                f" clients {w.client_cpu / w.wall:.0%}, upstream {w.upstream_cpu / w.wall:.0%};"
                f" {sum(s.frames for s in w.samples)} text frames, {sum(s.rejoins for s in w.samples)} rejoins,"
                f" {sum(s.conflicts for s in w.samples)} conflicting overlaps,"
                f" {sum(1 for s in w.samples if s.verdict == 'wrong')} wrong,"
                f" statuses {sorted({s.status or s.error or '-' for s in w.samples})},"
                f" saved text wrong {w.saved_wrong if w.saved_wrong is not None else 'n/a'}"
            )
            if w.db is not None and w.db.other:
                parts.append(f"other rows/reply {w.db.other:.1f};")
            if w.over_capacity:
                parts.append(f"daphne logged {w.over_capacity} channel-layer 'over capacity' drops;")
            if w.still_streaming:
                parts.append(f"{w.still_streaming} replies still streaming 60 s after the phase;")
            if w.compressed:
                parts.append("(permessage-deflate negotiated: bytes are before compression)")
        failures = d.failures + w.failures
        if failures:
            parts.append(f"failures ({len(failures)}): " + " | ".join(f[:200] for f in failures[:3]))
        return " ".join(parts)


HEADERS = [
    "procs",
    "N",
    "compl x p50",
    "compl x p99",
    "+TTFT p50 ms",
    "+TTFT p99 ms",
    "CPU/tok x",
    "B/text B",
    "chat rows",
    "audit rows",
    "conns",
    "bad",
    "gaps",
    "late",
]


def table(rows: list[Row], *, markdown: bool) -> str:
    cells = [row.cells() for row in rows]
    if markdown:
        lines = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join("---:" for _ in HEADERS) + "|"]
        return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in cells])
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(HEADERS)]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(line, widths, strict=True)) for line in [HEADERS, *cells])


def machine_line(bench: Bench, redis_url: str | None) -> str:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    postgres = bench.stats.version() if bench.stats is not None else "n/a (SQLite)"
    redis_version = "n/a (in-memory channel layer)"
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url)
        try:
            redis_version = str(client.info("server").get("redis_version", "?"))
        finally:
            client.close()
    from importlib.metadata import version

    return (
        f"Machine: nproc {os.cpu_count()}, {model}; Python {platform.python_version()}, PostgreSQL {postgres},"
        f" Redis {redis_version}; daphne {version('daphne')}, channels-redis {version('channels-redis')},"
        f" openai {version('openai')}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def summary(rows: list[Row], wall: float) -> str:
    lines = [f"{len(rows)} rows in {wall:.0f} s."]
    clean = [f"{r.processes}p/N={r.clients}" for r in rows if r.ok()]
    broken = [
        f"{r.processes}p/N={r.clients} ({r.bad()} bad, {r.late()} late, {r.gaps()} gaps)" for r in rows if not r.ok()
    ]
    lines.append(f"All replies complete and on time: {', '.join(clean) or 'none'}.")
    if broken:
        lines.append(f"Replies lost, wrong or late: {', '.join(broken)}.")
    measured = [r for r in rows if r.direct.samples and r.ws.samples]
    if measured:
        worst = max(measured, key=lambda r: r.completion_ratio(99)[0])
        value, exact = worst.completion_ratio(99)
        lines.append(
            f"Worst p99 completion ratio: {'' if exact else '>'}{value:.2f} at {worst.processes}p/N={worst.clients}."
        )
    busy = [f"N={r.clients}" for r in measured if r.direct.wall and r.direct.cpu / r.direct.wall > 0.9]
    if busy:
        lines.append(
            f"The direct client used over 90% of a core at {', '.join(sorted(set(busy)))}: the baseline is CPU-bound"
            " there, so ratios against it flatter the websocket path."
        )
    return "\n".join(lines)


# --- Running ---------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def daphne_processes(count: int, redis_url: str | None) -> Iterator[list[Any]]:
    from tests.live import DaphneServer

    # Audit hand-offs stay in daphne's memory: no worker runs them for this database, and a worker of another run
    # on the same Redis must never take them.
    extra = {"CELERY_BROKER_URL": "memory://", "DJANGO_LOG_LEVEL": "INFO"}
    servers = [DaphneServer(redis_url=redis_url or "", extra_env=extra) for _ in range(count)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def run_plan(
    bench: Bench,
    processes: list[int],
    clients: list[int],
    tokens: int,
    rate: float,
    redis_url: str | None,
    *,
    baseline: bool = True,
    single_rounds: int = SINGLE_ROUNDS,
) -> list[Row]:
    rows: list[Row] = []
    for count in processes:
        if count > 1 and not redis_url:
            bench.say(f"skipping {count} processes: they need Redis (REDIS_URL)")
            continue
        with daphne_processes(count, redis_url) as servers:
            bench.daphnes = servers
            # First connections, imports and clients in every daphne are not what is measured.
            warm = ws_phase(bench, 2 * count, 5, 1000, 30, db=False)
            if not warm.samples or any(s.verdict != "complete" for s in warm.samples):
                logs = " / ".join(server.log()[-1500:] for server in servers)
                raise RuntimeError(f"warm-up failed: {warm.failures[:3]} {warm.samples[:2]}; daphne: {logs}")
            for n in clients:
                limit = phase_limit(n, tokens, rate)
                rounds = rounds_for(n, single_rounds)
                direct = direct_phase(bench, n, tokens, rate, limit, rounds=rounds) if baseline else DirectPhase()
                ws = ws_phase(bench, n, tokens, rate, limit, rounds=rounds)
                row = Row(count, n, tokens, rate, limit, direct, ws, rounds)
                rows.append(row)
                bench.say(row.details())
        for server in servers:  # keep a daphne's log only when something went wrong
            if all(r.ok() for r in rows if r.processes == count):
                with contextlib.suppress(OSError):
                    server.log_path.unlink()
            else:
                bench.say(f"daphne log: {server.log_path}")
    return rows


def raise_open_files(wanted: int) -> None:
    """Per client a socket on each side and an upstream connection on each path; daphne inherits the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def forget_redis_keys(redis_url: str, prefix: str) -> None:
    """Reply buffers and group memberships this run left behind (its own prefix only)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


@contextlib.contextmanager
def bench_world(
    *, users: int, redis_url: str | None, throwaway: bool, verbose: bool, db_stats: bool = True
) -> Iterator[tuple[Bench, str | None]]:
    """Django on the right database, the upstream, users, statistics; everything undone afterwards."""
    from django.db import connection, connections

    database: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if throwaway:
        # A database name of its own: pytest uses test_<name>, which the throwaway database would collide with.
        test_settings = connections["default"].settings_dict.setdefault("TEST", {})
        if connection.vendor == "sqlite":
            test_settings["NAME"] = str(ROOT / "var" / f"wsbench-{os.getpid()}.sqlite3")
        else:
            test_settings["NAME"] = f"test_wsbench_{os.getpid()}"
        database = throwaway_database()
    with database:
        upstream = UpstreamServer(key=KEY).start()
        stats: PgStats | None = None
        try:
            upstream.add_deployment(DEPLOYMENT)
            cookies = make_world(upstream, users)
            stats = PgStats() if db_stats and connection.vendor == "postgresql" else None
            yield Bench(upstream, cookies, stats, verbose=verbose), redis_url
        finally:
            if stats is not None:
                stats.close()
            upstream.stop()
            connection.close()  # the throwaway database cannot be dropped while this process is connected


def _prepare_django(database_url: str | None, redis_url: str | None) -> None:
    """Sets Django up for a CLI run, or checks the one already set up (pytest) uses the database asked for."""
    from django.apps import apps

    if apps.ready:
        if database_url:
            from tests.live import current_database_url

            if current_database_url() != database_url:
                raise ValueError(f"Django is already connected to {current_database_url()}, not {database_url}")
        return
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    if redis_url is not None:
        os.environ["REDIS_URL"] = redis_url
    # Every Redis key of this run (channel layer, reply buffers, cache) under a prefix of its own.
    os.environ.setdefault("REDIS_KEY_PREFIX", f"officeai-wsbench-{uuid.uuid4().hex[:8]}")
    setup_django()


def run_smoke(
    *,
    clients: int = 5,
    tokens: int = 40,
    rate: float = 200.0,
    processes: int = 1,
    database_url: str | None = None,
    throwaway: bool = True,
    redis_url: str | None = None,
    baseline: bool = False,
    db_stats: bool = False,
    verbose: bool = False,
    single_rounds: int = SINGLE_ROUNDS,
) -> dict[str, Any]:
    """A few replies through daphne; ``result["ok"]`` says whether every one came back complete and on time.

    ``database_url``: the database to use (default: DATABASE_URL, or the one Django is connected to when it is set
    up already, as under pytest-django). ``throwaway=False`` uses that database as it is instead of creating and
    dropping ``test_wsbench_<pid>`` (under pytest: mark the test ``django_db(transaction=True)`` so daphne sees the
    rows). ``redis_url``: default REDIS_URL or the local Redis; "" for the in-memory layer (one process only).
    ``baseline``: also run the direct openai clients, for the ratios. ``db_stats``: also count database rows and
    connections per reply (PostgreSQL; adds about 25 s of waiting for the statistics to settle). ``single_rounds``:
    for fewer than 5 clients, run ``ceil(single_rounds / clients)`` rounds in sequence (as the CLI does).
    """
    redis_url = redis_url if redis_url is not None else (os.environ.get("REDIS_URL") or DEFAULT_REDIS)
    _prepare_django(database_url, redis_url)
    started = time.perf_counter()
    world = bench_world(
        users=max(clients, 2 * processes), redis_url=redis_url, throwaway=throwaway, verbose=verbose, db_stats=db_stats
    )
    with world as (bench, url):
        rows = run_plan(
            bench, [processes], [clients], tokens, rate, url, baseline=baseline, single_rounds=single_rounds
        )
    row = rows[0]
    samples = row.ws.samples
    return {
        "ok": row.ok(),
        "clients": clients,
        "rounds": row.rounds,
        "complete": sum(1 for s in samples if s.verdict == "complete"),
        "bad": row.bad(),
        "late": row.late(),
        "gaps": row.gaps(),
        "wrong": sum(1 for s in samples if s.verdict == "wrong"),
        "statuses": sorted({s.status or s.error or "-" for s in samples}),
        "saved_wrong": row.ws.saved_wrong,
        "failures": row.direct.failures + row.ws.failures,
        "table": dict(zip(HEADERS, row.cells(), strict=True)),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _int_list(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("a comma-separated list of positive whole numbers")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=_int_list, default=[1, 10, 50, 100, 200], help="N values (1,10,50,100,200)")
    parser.add_argument("--processes", type=_int_list, default=[1, 2], help="daphne process counts (1,2)")
    parser.add_argument("--tokens", type=int, default=500, help="tokens per reply (500)")
    parser.add_argument("--rate", type=float, default=50, help="upstream tokens/s per reply (50)")
    parser.add_argument(
        "--single-rounds",
        type=int,
        default=SINGLE_ROUNDS,
        help=f"for N < {SMALL_N}, run ceil(this / N) rounds in sequence and merge them ({SINGLE_ROUNDS}; 1: one round)",
    )
    parser.add_argument("--markdown", action="store_true", help="print the table in Markdown with a machine line")
    parser.add_argument("--smoke", action="store_true", help="5 clients, 40 tokens at 200/s, 1 process; exit 1 if bad")
    parser.add_argument("--child", choices=["direct", "ws"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child)
        return
    if args.tokens < 1 or args.rate <= 0 or args.single_rounds < 1:
        parser.error("need --tokens >= 1, --rate > 0 and --single-rounds >= 1")
    raise_open_files(8 * max(args.clients) + 512)
    if args.smoke:
        result = run_smoke(verbose=True)
        print(json.dumps(result, indent=2))
        sys.exit(0 if result["ok"] else 1)

    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS)  # set but empty: the in-memory layer
    _prepare_django(None, redis_url)
    from django.conf import settings

    started = time.perf_counter()
    rows: list[Row] = []
    try:
        users = max(*args.clients, *(2 * p for p in args.processes))  # the warm-up uses 2 per process
        with bench_world(users=users, redis_url=redis_url, throwaway=True, verbose=True) as (bench, url):
            machine = machine_line(bench, url)
            print(machine, flush=True)
            rows = run_plan(
                bench, args.processes, args.clients, args.tokens, args.rate, url, single_rounds=args.single_rounds
            )
    finally:
        if redis_url:
            with contextlib.suppress(Exception):
                forget_redis_keys(redis_url, settings.REDIS_KEY_PREFIX)
    wall = time.perf_counter() - started
    print()
    print(f"{args.tokens} tokens at {args.rate:g} tokens/s per reply; ratios are websocket / direct openai, same N")
    if args.markdown:
        print(machine + "\n")
    print(table(rows, markdown=args.markdown))
    print()
    print(summary(rows, wall))
    sys.exit(0 if rows and all(r.ok() for r in rows) else 1)


if __name__ == "__main__":
    main()
