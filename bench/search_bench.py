"""Conversation search at scale: the bigram index against the ``icontains`` scan it replaced, in one run.

    python -m bench.search_bench [--messages 100000] [--conversations 5000] [--runs 40] [--markdown]

Runs against real PostgreSQL (DATABASE_URL, defaulting to the local server) in a throwaway database. One person in
one company (and a second person whose rows the search must skip) gets ``--conversations`` conversations with
``--messages`` messages between them: Japanese and English questions and answers of realistic length, with
``search_text`` written as the chat services write it. Then, for a two-character Japanese word, a longer Japanese
phrase and an English word, it times in alternation (same data, same warm cache):

* **indexed**: ``chat.selectors.conversation_list`` (the GIN index on ``to_tsvector('simple', search_text)``), the
  first 200 rows, as the sidebar's ``GET /api/conversations/?q=`` asks;
* **+ snippets**: the same plus ``conversation_search_hits`` (the first matching message of each, one query), which
  is the whole of what the endpoint does;
* **naive**: the previous query, ``title icontains OR EXISTS(message content icontains)``, same order and limit.

Reports p50/p99 of each, the naive/indexed ratio, how many conversations each found, and the plan's index line.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import platform
import random
import time
from collections.abc import Callable
from typing import Any

from bench._django import percentile, setup_django, throwaway_database

QUERIES = [
    ("2-char Japanese word", "会議"),
    ("Japanese phrase", "四半期決算の見通し"),
    ("English word", "deployment"),
]
# How often each query's text is put into a message (the rest of the text never contains it by construction).
PLANTED = {"会議": 0.02, "四半期決算の見通し": 0.002, "deployment": 0.01}


def _words(text: str) -> list[str]:
    return text.split()


KANJI_WORDS = _words(
    "資料 報告 予算 計画 営業 顧客 契約 請求 品質 製品 開発 設計 試験 運用 保守 障害 対応 確認 承認 申請 経費 "
    "精算 出張 採用 面接 研修 評価 目標 実績 売上 利益 在庫 発注 納期 見積 提案 要件 仕様 課題 改善 分析 集計 "
    "手順 規程 方針 戦略 市場 競合 価格 広告 調査 統計 指標 工程 進捗 担当 部署 本社 支店 取引 条件 期限 変更 "
    "追加 削除 更新 登録 検索 表示 印刷 送信 受信 連絡 相談 依頼 回答 質問 説明 要約 翻訳 作成 修正 共有 保存"
)
KATAKANA_WORDS = _words(
    "システム データ サーバー クラウド プロジェクト スケジュール メール チーム レビュー テスト リリース "
    "マニュアル セキュリティ ネットワーク アカウント パスワード ファイル フォルダ レポート ダッシュボード"
)
PARTICLES = _words("の を に は が と で から まで より も へ")
ENDINGS = ["します。", "してください。", "です。", "でした。", "をお願いします。", "について教えてください。"]
ENGLISH = _words(
    "the a report budget plan customer contract invoice quality product design test release server data "
    "team review schedule meeting summary please write check update status issue fix change request approval "
    "sales target cost price market analysis draft email slide document policy security account password "
    "network cloud project timeline risk owner next week today tomorrow"
)


def _japanese_sentence(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(2, 5)):
        words = KATAKANA_WORDS if rng.random() < 0.3 else KANJI_WORDS
        parts.append(rng.choice(words) + rng.choice(PARTICLES))
    return "".join(parts) + rng.choice(KANJI_WORDS) + rng.choice(ENDINGS)


def _english_sentence(rng: random.Random) -> str:
    words = [rng.choice(ENGLISH) for _ in range(rng.randint(6, 16))]
    return " ".join(words).capitalize() + "."


def _text(rng: random.Random, *, answer: bool) -> str:
    japanese = rng.random() < 0.7
    count = rng.randint(4, 14) if answer else rng.randint(1, 3)
    sentences = [
        (_japanese_sentence(rng) if japanese or rng.random() < 0.2 else _english_sentence(rng)) for _ in range(count)
    ]
    for needle, share in PLANTED.items():
        if rng.random() < share:
            sentence = f"{needle}について確認します。" if needle != "deployment" else f"The {needle} is scheduled."
            sentences.insert(rng.randrange(len(sentences) + 1), sentence)
    return ("\n\n" if answer else " ").join(sentences)


def _seed(messages: int, conversations: int) -> tuple[Any, Any, float, int]:
    from chat.models import Conversation, Message
    from chat.search import search_text_for
    from tenants.services import tenant_create, user_create

    rng = random.Random(20261130)  # noqa: S311 - test data
    tenant = tenant_create(name="Search bench", slug="search-bench", domains=["search-bench.example"])
    person = user_create(tenant=tenant, email="person@search-bench.example")
    other = user_create(tenant=tenant, email="other@search-bench.example")
    convs = Conversation.objects.bulk_create(
        Conversation(tenant=tenant, user=person, title=f"相談 {i}") for i in range(conversations)
    )
    # Another person's rows with the same words: the search must not return them (and they make the index bigger).
    theirs = Conversation.objects.bulk_create(
        Conversation(tenant=tenant, user=other, title=f"other {i}") for i in range(conversations // 10)
    )
    tokenize_seconds, chars, batch = 0.0, 0, []
    for i in range(messages):
        owner = theirs[i % len(theirs)] if i % 11 == 10 else convs[i % len(convs)]
        content = _text(rng, answer=i % 2 == 1)
        start = time.perf_counter()
        search_text = search_text_for(content)
        tokenize_seconds += time.perf_counter() - start
        chars += len(content)
        batch.append(
            Message(
                tenant=tenant,
                conversation=owner,
                role=Message.Role.ASSISTANT if i % 2 else Message.Role.USER,
                content=content,
                search_text=search_text,
            )
        )
        if len(batch) == 5000:
            Message.objects.bulk_create(batch)
            batch = []
    Message.objects.bulk_create(batch)
    return tenant, person, tokenize_seconds, chars


def _naive_query(tenant: Any, person: Any, query: str) -> Any:
    """The search as it was before the index: a scan of every message's content."""
    from django.db.models import Exists, OuterRef, Q

    from chat.models import Conversation, Message

    in_text = Message.objects.filter(tenant=tenant, conversation=OuterRef("pk"), content__icontains=query)
    qs = Conversation.objects.filter(tenant=tenant, user=person, source=Conversation.Source.WEB)
    return qs.filter(Q(title__icontains=query) | Exists(in_text))


def _naive(tenant: Any, person: Any, query: str) -> list[Any]:
    qs = _naive_query(tenant, person, query)
    return list(qs.select_related("model_version").order_by("-pinned", "-updated_at", "-pk")[:200])


def _timed(fn: Callable[[str], object], query: str) -> float:
    start = time.perf_counter()
    fn(query)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    with throwaway_database():
        if connection.vendor != "postgresql":
            raise SystemExit("bench.search_bench needs PostgreSQL (DATABASE_URL)")
        from chat.search import INDEX_NAME
        from chat.selectors import conversation_list, conversation_search_hits

        started = time.perf_counter()
        tenant, person, tokenize_seconds, chars = _seed(args.messages, args.conversations)
        seeded = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE chat_message")  # as autovacuum would: statistics, GIN pending list merged
            cursor.execute("VACUUM ANALYZE chat_conversation")
            cursor.execute(
                "SELECT pg_relation_size(%s::regclass), pg_total_relation_size('chat_message')", [INDEX_NAME]
            )
            index_bytes, table_bytes = cursor.fetchone()
            cursor.execute("SELECT version()")
            (pg_version,) = cursor.fetchone()

        def indexed(query: str) -> list[Any]:
            return list(conversation_list(tenant=tenant, user=person, query=query)[:200])

        def with_snippets(query: str) -> dict[int, Any]:
            return conversation_search_hits(tenant=tenant, conversations=indexed(query), query=query)

        def naive(query: str) -> list[Any]:
            return _naive(tenant, person, query)

        runs: dict[str, Callable[[str], object]] = {"indexed": indexed, "snippets": with_snippets, "naive": naive}

        results = []
        for label, query in QUERIES:
            # Every matching conversation, not only the first 200: the two searches find the same ones here.
            found_indexed = conversation_list(tenant=tenant, user=person, query=query).count()
            found_naive = _naive_query(tenant, person, query).count()
            for _ in range(3):  # warm-up: plans, caches
                for run in runs.values():
                    run(query)
            times: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(args.runs):  # alternating, so drift affects all three alike
                for name, run in runs.items():
                    times[name].append(_timed(run, query))
            plan = conversation_list(tenant=tenant, user=person, query=query).explain()
            index_line = next((line.strip() for line in plan.splitlines() if INDEX_NAME in line), "(index not used)")
            results.append((label, query, found_indexed, found_naive, times, index_line, plan))

        print(
            f"{args.messages:,} messages in {args.conversations:,} conversations (+{args.conversations // 10:,} of "
            f"another person); seeded in {seeded:.0f} s; search_text_for: {chars / tokenize_seconds / 1e6:.1f} M "
            f"chars/s over {chars / 1e6:.1f} M chars; table {table_bytes / 1e6:.0f} MB, {INDEX_NAME} "
            f"{index_bytes / 1e6:.1f} MB"
        )
        print(f"{pg_version.split(',')[0]}; Python {platform.python_version()}; {args.runs} runs per query")
        header = (
            "| query | conversations found (indexed / naive) | indexed p50 ms | indexed p99 ms | + snippets p50 ms | "
            "+ snippets p99 ms | naive p50 ms | naive p99 ms | naive / indexed p50 | p99 |"
        )
        if args.markdown:
            print(header)
            print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label, query, found_indexed, found_naive, times, _line, _plan in results:
            p = {name: (percentile(values, 50), percentile(values, 99)) for name, values in times.items()}
            cells = [
                f"{label} `{query}`",
                f"{found_indexed} / {found_naive}",
                *(f"{value:.1f}" for name in ("indexed", "snippets", "naive") for value in p[name]),
                f"{p['naive'][0] / p['indexed'][0]:.0f}x",
                f"{p['naive'][1] / p['indexed'][1]:.0f}x",
            ]
            print("| " + " | ".join(cells) + " |" if args.markdown else "  ".join(cells))
        for label, _query, *_rest, index_line, _plan in results:
            print(f"plan, {label}: {index_line}")
        print()
        print(f"plan of the indexed query for {results[0][1]!r}:")
        print(results[0][6])


if __name__ == "__main__":
    main()
