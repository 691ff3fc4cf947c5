"""What the local forge's files may say: pydantic models of issue and pull request front matter
and of comment entries, the one-line titles and branch names and the timestamps written, and
the errors a hand-editing mistake earns.

Files are edited by hand, so validation is tolerant where intent is clear (a lone label as
text, `state: OPEN`, a date YAML read as a date) and otherwise names the file, the key, what
is wrong and how to write it, as a UsageError (exit 2).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError, ValidationInfo,
                      field_validator)

from agentos.errors import UsageError
from agentos.forge.base import Comment

ISSUE_KEYS_HINT = (
    "an issue file is a '---' line, YAML keys (title: …, state: open|closed, labels: [a, b]), "
    "a closing '---' line, then the Markdown body"
)
PR_KEYS_HINT = (
    "a pull request file is a '---' line, YAML keys (title, head, base, state: "
    "open|closed|merged, draft: true|false), a closing '---' line, then the Markdown body"
)
COMMENTS_HINT = "the comments file is a YAML list of {id: <unique integer>, author, body, created_at}"
LABELS_HINT = "write labels: [bug, ui]"


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _number_as_text(value: Any) -> Any:
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _stamp(value: Any) -> str:
    """A timestamp as text, whether YAML read it as a string or (unquoted) as a date."""
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, (datetime, date)) else str(value)


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""A required value: text (not a number or a list), not blank; kept without surrounding spaces."""
Label = Annotated[str, BeforeValidator(_number_as_text)]


def merge_labels(current: list[str], extra: Any) -> list[str]:
    """`current` followed by the new names from `extra`, without duplicates, order kept."""
    merged = list(dict.fromkeys(current))
    merged += [x for x in dict.fromkeys(label_list(extra)) if x not in merged]
    return merged


def one_line(value: Any, what: str) -> str:
    """A non-empty single line of text (titles and branch names)."""
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"the {what} must be non-empty text", f"pass a {what}")
    if "\n" in value.strip() or "\r" in value.strip():
        raise UsageError(f"the {what} must be a single line: {value!r}", "put details in the body")
    return value.strip()


def timestamp() -> str:
    """Now, as the `created_at` the local forge writes (UTC, seconds, `Z`)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def label_list(labels: Any) -> list[str]:
    """Stripped, non-empty label names; a lone string is one label, not its characters."""
    names = []
    for label in _as_list(labels):
        if not isinstance(label, str):
            raise UsageError(f"label {label!r} is not text", "pass label names as strings")
        if label.strip():
            names.append(label.strip())
    return names


class _FrontMatter(BaseModel):
    """Keys every document has. Unknown keys are ignored here (and kept when the file is rewritten)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    number: int | None = None
    """Optional: the file name says it; if present it must agree."""
    title: Text

    @field_validator("number")
    @classmethod
    def _agrees_with_file_name(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value != info.context["number"]:  # runs only when the key is present, even empty
            raise ValueError("the front matter and the file name disagree")
        return value

    @classmethod
    def read(cls, meta: dict[str, Any], number: int, where: str, hint: str) -> Self:
        """The validated front matter of file `where` (number `number`), or a UsageError."""
        # `key:` with no value leaves a key unset, except `number:`, which must name the file's number
        present = {k: v for k, v in meta.items() if v is not None or k == "number"}
        try:
            return cls.model_validate(present, context={"number": number})
        except ValidationError as exc:
            raise cls._explain(exc.errors()[0], meta, where, hint, number) from None

    @classmethod
    def _explain(cls, error: Any, meta: dict[str, Any], where: str, hint: str, number: int) -> UsageError:
        """A validation error said the way a person fixes the file."""
        key = str(error["loc"][0])
        value = meta.get(key)
        if key == "number":
            return UsageError(f"{where}: front matter says number {value!r} but the file name says {number}",
                              f"set `number: {number}` or remove the key")
        if key == "labels":
            return UsageError(f"{where}: 'labels' must be a list of names, found {value!r}", LABELS_HINT)
        if error["type"] == "missing":
            return UsageError(f"{where}: missing required key {key!r} in the front matter", hint)
        if error["type"] == "string_too_short":
            return UsageError(f"{where}: {key!r} is empty", hint)
        if error["type"] == "string_type":
            return UsageError(f"{where}: {key!r} must be text, found {kind(value)} ({value!r})",
                              f"put the value in quotes: {key}: \"{value}\"")
        if error["type"] == "literal_error":
            choices = ", ".join(get_args(cls.model_fields[key].annotation))
            return UsageError(f"{where}: {key!r} must be one of {choices}; found {value!r}", hint)
        return UsageError(f"{where}: {key!r} must be true or false; found {value!r}", hint)


class IssueFrontMatter(_FrontMatter):
    state: Annotated[Literal["open", "closed"], BeforeValidator(_lower)] = "open"
    labels: Annotated[list[Label], BeforeValidator(_as_list)] = []


class PullFrontMatter(_FrontMatter):
    head: Text
    base: Text
    state: Annotated[Literal["open", "closed", "merged"], BeforeValidator(_lower)] = "open"
    draft: bool = False


class CommentEntry(BaseModel):
    """One entry of an issue's comments file; only `id` is required."""

    model_config = ConfigDict(extra="ignore", strict=True)

    id: int
    author: Annotated[str, BeforeValidator(lambda v: "you" if v is None else str(v))] = "you"
    body: Annotated[str, BeforeValidator(lambda v: "" if v is None else v)] = ""
    created_at: Annotated[str, BeforeValidator(_stamp)] = ""

    @classmethod
    def read(cls, item: Any, where: str) -> Comment:
        """The comment an entry of file `where` describes, or a UsageError saying what is wrong."""
        if not isinstance(item, dict):
            raise UsageError(f"{where}: each comment must be a mapping, found {kind(item)}", COMMENTS_HINT)
        try:
            entry = cls.model_validate(item)
        except ValidationError as exc:
            field = exc.errors()[0]["loc"][0]
            cid = item.get("id")
            problem = (f"a comment has id {cid!r}; ids must be integers" if field == "id"
                       else f"comment {cid} has a body that is {kind(item.get('body'))}, not text")
            raise UsageError(f"{where}: {problem}", COMMENTS_HINT) from None
        return Comment(**entry.model_dump())


def kind(value: Any) -> str:
    """What a YAML value is, in words."""
    names = {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number",
             float: "a number", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)
