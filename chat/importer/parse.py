"""Reading a chatbot-ui v1 export (``exportData`` in its ``utils/app/importExport.ts``) into plain values, checked.
No database here: ``chat.importer.services`` writes what this returns.

The formats, as chatbot-ui v1 wrote and read them (``types/export.ts``, ``cleanData``):

* version 1: a bare list of conversations ``{id, name, messages}``;
* version 2: ``{history, folders}`` without ``version``; folders ``{id, name}`` are all chat folders;
  either list may be ``null``;
* version 3: ``{version: 3, history, folders}``, folders ``{id, name, type: "chat" | "prompt"}``;
* version 4: ``{version: 4, history, folders, prompts}``, prompts ``{id, name, description, content, model,
  folderId}``.

A conversation is ``{id, name, messages: [{role, content}], model: {id, name, maxLength, tokenLimit}, prompt,
temperature, folderId}``; chatbot-ui filled in any of these but ``messages`` when it was missing, and so does
this. Anything of the wrong shape refuses the whole file, naming where (``history[3].messages[2].content``).
Text the database cannot hold (NUL, lone surrogates: JSON can carry both) is repaired and too-long text is cut,
each with a warning; the file is still imported.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext, ngettext

from chat.prompts.services import MAX_CONTENT, MAX_DESCRIPTION, MAX_FOLDER_NAME, MAX_NAME
from chat.prompts.variables import MAX_VARIABLES, prompt_variables
from chat.services import MAX_SYSTEM_PROMPT, MAX_TEXT, ChatRefused, storable, title_from

MAX_BYTES = 20 * 1024 * 1024
MAX_CONVERSATIONS = 10_000
MAX_FOLDERS = 1_000
MAX_ANSWER = 4 * MAX_TEXT  # an imported answer; what people type stays within MAX_TEXT
MAX_TITLE = 200  # Conversation.title
MAX_KEY = 200  # imported_key
MAX_WARNINGS = 100  # shown; the rest are counted

ROLES = ("user", "assistant", "system")
FOLDER_TYPES = ("chat", "prompt")


class ImportRefused(ChatRefused):
    """The file cannot be imported; nothing was created. ``message`` says what is wrong and where."""


@dataclass(frozen=True)
class V1Folder:
    key: str
    name: str
    kind: str  # "chat" or "prompt"


@dataclass(frozen=True)
class V1Conversation:
    key: str
    title: str
    system_prompt: str
    messages: list[tuple[str, str]]  # (role, content), user and assistant only
    folder_key: str | None
    model_label: str
    skipped_messages: int  # empty ones


@dataclass(frozen=True)
class V1Prompt:
    key: str
    name: str
    description: str
    content: str
    folder_name: str


@dataclass
class V1Export:
    version: int
    folders: list[V1Folder] = field(default_factory=list)
    conversations: list[V1Conversation] = field(default_factory=list)
    prompts: list[V1Prompt] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped_conversations: int = 0  # empty, or the same id twice in the file
    skipped_messages: int = 0  # of those, and empty messages
    skipped_prompts: int = 0  # the same id twice, or too many variables
    skipped_folders: int = 0  # the same id twice

    def warn(self, message: str) -> None:
        self.warnings.append(message)


# --- Shapes -------------------------------------------------------------------------------------------------------
def _kind(value: object) -> str:
    if value is None:
        return gettext("null")
    if isinstance(value, bool):
        return gettext("true or false")
    if isinstance(value, int | float):
        return gettext("a number")
    if isinstance(value, str):
        return gettext("text")
    if isinstance(value, list):
        return gettext("a list")
    return gettext("an object")


def _wrong(path: str, expected: str, value: object) -> ImportRefused:
    return ImportRefused(
        "wrong_type",
        gettext("%(path)s must be %(expected)s, not %(actual)s.")
        % {"path": path, "expected": expected, "actual": _kind(value)},
    )


def _missing(path: str) -> ImportRefused:
    return ImportRefused("missing_field", gettext("Missing field at %(path)s.") % {"path": path})


def _object(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _wrong(path, gettext("an object"), value)
    return value


def _list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _wrong(path, gettext("a list"), value)
    return value


def _required(obj: dict[str, Any], name: str, path: str) -> Any:
    if name not in obj:
        raise _missing(f"{path}.{name}" if path else name)
    return obj[name]


def _text(value: object, path: str, *, optional: bool = True) -> str:
    """A string field; missing or ``null`` is empty when ``optional``."""
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise _wrong(path, gettext("text"), value)
    return value


def _key(value: object) -> str | None:
    """chatbot-ui's id as our ``imported_key``: strings (uuids) and numbers (version 1 and 2 used ``Date.now()``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        key = value.strip()
        return key if len(key) <= MAX_KEY else "sha256:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()
    return None


def _content_key(raw: dict[str, Any]) -> str:
    """A stable key for a conversation without an id: the hash of what it says."""
    body = json.dumps(
        {"name": raw.get("name"), "prompt": raw.get("prompt"), "messages": raw.get("messages")},
        ensure_ascii=True,
        sort_keys=True,
        separators=(",", ":"),
    )
    return "sha256:" + hashlib.sha256(body.encode("ascii")).hexdigest()


# --- Text ---------------------------------------------------------------------------------------------------------
def _repaired(text: str, path: str, export: V1Export) -> str:
    """``text`` the database can store: NUL removed, lone surrogates replaced by U+FFFD (warned)."""
    fixed = text.replace("\x00", "")
    try:
        fixed.encode("utf-8")
    except UnicodeEncodeError:
        fixed = fixed.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if fixed != text:
        export.warn(
            gettext("%(path)s: removed characters that cannot be stored (NUL or a broken emoji).") % {"path": path}
        )
    return storable(fixed)


def _cut(text: str, limit: int, path: str, export: V1Export) -> str:
    if len(text) <= limit:
        return text
    export.warn(
        gettext("%(path)s was cut to %(max)s characters (it had %(n)s).")
        % {"path": path, "max": f"{limit:,}", "n": f"{len(text):,}"}
    )
    return text[: limit - 1] + "…"


def _line(text: str, limit: int, path: str, export: V1Export) -> str:
    return _cut(" ".join(_repaired(text, path, export).split()), limit, path, export)


# --- The file -----------------------------------------------------------------------------------------------------
def too_large(size: int) -> ImportRefused:
    return ImportRefused(
        "too_large",
        gettext("The file is too large: %(size)s MB; the limit is %(max)s MB.")
        % {"size": f"{size / 1024 / 1024:.1f}", "max": MAX_BYTES // 1024 // 1024},
    )


def _load(data: bytes) -> Any:
    if len(data) > MAX_BYTES:
        raise too_large(len(data))
    if not data.strip():
        raise ImportRefused("empty_file", gettext("The file is empty."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        message = gettext("The file is not UTF-8 text, so it is not a chatbot-ui export.")
        raise ImportRefused("not_utf8", message) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportRefused(
            "not_json",
            gettext("The file is not valid JSON: the error is at line %(line)s, column %(column)s.")
            % {"line": exc.lineno, "column": exc.colno},
        ) from None
    except RecursionError:  # nesting deeper than the parser's stack
        raise ImportRefused("not_json", gettext("The file is not valid JSON: it is nested too deeply.")) from None


def _version(root: object) -> int:
    if isinstance(root, list):
        return 1
    if not isinstance(root, dict):
        raise ImportRefused("unknown_format", _not_an_export())
    if "version" not in root:
        if "history" in root and "folders" in root:
            return 2
        raise ImportRefused("unknown_format", _not_an_export())
    version = root["version"]
    if type(version) is not int or version not in (3, 4):
        shown = str(version)[:20] if isinstance(version, str | int | float) else _kind(version)
        raise ImportRefused(
            "unknown_version",
            gettext("Version %(version)s of the chatbot-ui export is not supported; versions 1 to 4 are.")
            % {"version": shown},
        )
    return version


def _not_an_export() -> str:
    return gettext(
        "This is not a chatbot-ui export: expected a list of conversations, or an object with “history” and “folders”."
    )


def parse_export(data: bytes) -> V1Export:
    """The export in ``data``, checked and normalised, or ``ImportRefused``."""
    root = _load(data)
    version = _version(root)
    export = V1Export(version=version)
    history: Any
    folders: Any
    prompts: Any
    if version == 1:
        history, folders, prompts = root, [], []
        base = ""
    else:
        if version == 2:
            history = root["history"] if root["history"] is not None else []
            folders = root["folders"] if root["folders"] is not None else []
        else:
            history = _required(root, "history", "")
            folders = _required(root, "folders", "")
        prompts = _required(root, "prompts", "") if version == 4 else []  # version 3 had none
        base = "."
    history = _list(history, "history" if base else "(file)")
    folders = _list(folders, "folders")
    prompts = _list(prompts, "prompts")
    if len(history) > MAX_CONVERSATIONS:
        raise ImportRefused(
            "too_many_conversations",
            gettext("The file has %(n)s conversations; at most %(max)s can be imported at once.")
            % {"n": f"{len(history):,}", "max": f"{MAX_CONVERSATIONS:,}"},
        )
    if len(folders) > MAX_FOLDERS:
        raise ImportRefused(
            "too_many_folders",
            gettext("The file has %(n)s folders; at most %(max)s can be imported at once.")
            % {"n": f"{len(folders):,}", "max": f"{MAX_FOLDERS:,}"},
        )
    folder_map = _folders(folders, version, export)
    prefix = "history" if base else ""
    seen: set[str] = set()
    empty = 0
    for index, raw in enumerate(history):
        conversation = _conversation(raw, f"{prefix}[{index}]", folder_map, export)
        if conversation.key in seen:
            export.skipped_conversations += 1
            export.skipped_messages += len(conversation.messages) + conversation.skipped_messages
            export.warn(
                gettext("%(path)s: the same conversation id appears again; only the first one is imported.")
                % {"path": f"{prefix}[{index}]"}
            )
            continue
        seen.add(conversation.key)
        if not conversation.messages:
            empty += 1
            export.skipped_conversations += 1
            export.skipped_messages += conversation.skipped_messages
            continue
        export.skipped_messages += conversation.skipped_messages
        export.conversations.append(conversation)
    if empty:
        export.warn(
            ngettext(
                "%(n)s conversation without messages was left out.",
                "%(n)s conversations without messages were left out.",
                empty,
            )
            % {"n": empty}
        )
    _prompts(prompts, folder_map, export)
    return export


def _folders(items: list[Any], version: int, export: V1Export) -> dict[str, V1Folder]:
    found: dict[str, V1Folder] = {}
    for index, value in enumerate(items):
        path = f"folders[{index}]"
        raw = _object(value, path)
        ident = _required(raw, "id", path)
        key = _key(ident)
        if key is None:
            raise _wrong(f"{path}.id", gettext("text or a number"), ident)
        name = _text(_required(raw, "name", path), f"{path}.name", optional=False)
        kind = "chat"
        if version >= 3:
            kind = _text(_required(raw, "type", path), f"{path}.type", optional=False)
            if kind not in FOLDER_TYPES:
                raise ImportRefused(
                    "bad_value",
                    gettext("%(path)s: unknown folder type “%(value)s”; expected chat or prompt.")
                    % {"path": f"{path}.type", "value": kind[:40]},
                )
        if key in found:
            export.skipped_folders += 1
            export.warn(
                gettext("%(path)s: the same folder id appears again; only the first one is imported.") % {"path": path}
            )
            continue
        clean = _line(name, MAX_FOLDER_NAME, f"{path}.name", export) or gettext("Imported folder")
        found[key] = V1Folder(key=key, name=clean, kind=kind)
    export.folders = list(found.values())
    return found


def _folder_of(raw: dict[str, Any], path: str, folders: dict[str, V1Folder], kind: str, export: V1Export) -> str | None:
    value = raw.get("folderId")
    if value is None or value == "":
        return None
    key = _key(value)
    folder = folders.get(key) if key is not None else None
    if folder is None or folder.kind != kind:
        export.warn(
            gettext("%(path)s: its folder “%(folder)s” is not in the file; it was imported without a folder.")
            % {"path": path, "folder": str(value)[:60]}
        )
        return None
    return folder.key


def _conversation(value: object, path: str, folders: dict[str, V1Folder], export: V1Export) -> V1Conversation:
    raw = _object(value, path)
    messages_raw = _list(raw["messages"], f"{path}.messages") if raw.get("messages") is not None else []
    system_parts: list[str] = []
    prompt = _text(raw.get("prompt"), f"{path}.prompt")
    if prompt.strip():
        system_parts.append(_repaired(prompt.strip(), f"{path}.prompt", export))
    messages: list[tuple[str, str]] = []
    skipped = 0
    for index, item in enumerate(messages_raw):
        at = f"{path}.messages[{index}]"
        message = _object(item, at)
        role = _text(_required(message, "role", at), f"{at}.role", optional=False)
        content = _text(_required(message, "content", at), f"{at}.content", optional=False)
        if role not in ROLES:
            raise ImportRefused(
                "bad_value",
                gettext("%(path)s: unknown role “%(value)s”; expected user, assistant or system.")
                % {"path": f"{at}.role", "value": role[:40]},
            )
        content = _repaired(content, f"{at}.content", export)
        if role == "system":
            if content.strip() and content.strip() not in system_parts:
                system_parts.append(content.strip())
            continue
        if not content.strip():
            skipped += 1
            continue
        limit = MAX_TEXT if role == "user" else MAX_ANSWER
        messages.append((role, _cut(content, limit, f"{at}.content", export)))
    system_prompt = _cut("\n\n".join(system_parts), MAX_SYSTEM_PROMPT, f"{path}.prompt", export)
    name = _text(raw.get("name"), f"{path}.name")
    title = " ".join(_repaired(name, f"{path}.name", export).split())
    if not title:
        first = next((text for role, text in messages if role == "user"), "")
        title = title_from(first) if first else gettext("Imported chat")
    if len(title) > MAX_TITLE:
        title = title[: MAX_TITLE - 1] + "…"
    model = raw.get("model")
    model_label = ""
    if isinstance(model, dict):
        label = model.get("id") or model.get("name")
        model_label = _line(label, 200, f"{path}.model.id", export) if isinstance(label, str) else ""
    key = _key(raw.get("id")) or _content_key(raw)
    return V1Conversation(
        key=key,
        title=title,
        system_prompt=system_prompt,
        messages=messages,
        folder_key=_folder_of(raw, path, folders, "chat", export),
        model_label=model_label,
        skipped_messages=skipped,
    )


def _prompts(items: list[Any], folders: dict[str, V1Folder], export: V1Export) -> None:
    seen: set[str] = set()
    for index, value in enumerate(items):
        path = f"prompts[{index}]"
        raw = _object(value, path)
        name = _text(_required(raw, "name", path), f"{path}.name", optional=False)
        content = _text(_required(raw, "content", path), f"{path}.content", optional=False)
        description = _text(raw.get("description"), f"{path}.description")
        content = _cut(_repaired(content.strip(), f"{path}.content", export), MAX_CONTENT, f"{path}.content", export)
        key = _key(raw.get("id")) or _content_key({"name": name, "prompt": content, "messages": None})
        if key in seen:
            export.skipped_prompts += 1
            export.warn(
                gettext("%(path)s: the same prompt id appears again; only the first one is imported.") % {"path": path}
            )
            continue
        seen.add(key)
        if not content:
            export.skipped_prompts += 1
            export.warn(gettext("%(path)s: the prompt has no text; it was left out.") % {"path": path})
            continue
        count = len(prompt_variables(content))
        if count > MAX_VARIABLES:
            export.skipped_prompts += 1
            export.warn(
                gettext("%(path)s: the prompt has %(n)s variables, more than %(max)s; it was left out.")
                % {"path": path, "n": count, "max": MAX_VARIABLES}
            )
            continue
        folder_key = _folder_of(raw, path, folders, "prompt", export)
        export.prompts.append(
            V1Prompt(
                key=key,
                name=_line(name, MAX_NAME, f"{path}.name", export) or title_from(content)[:MAX_NAME],
                description=_line(description, MAX_DESCRIPTION, f"{path}.description", export),
                content=content,
                folder_name=folders[folder_key].name if folder_key else "",
            )
        )
