"""The denial type, safe JSON parsing, and key lookups that match JSON keys the way the engine does.

dockerd decodes bodies with Go's encoding/json, which matches object keys to struct fields with
bytes.EqualFold: ASCII case is ignored, and so are two Unicode folds onto ASCII letters, U+017F (long s)
= s and U+212A (Kelvin sign) = k. `{"Ho\u017ftConfig": {"privileged": true}}` creates a privileged container
(verified on 20.10), so every lookup here goes through `fold_key`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

MAX_BODY_BYTES = 1 << 20  # 1 MiB: far above any real create body (a CLI `docker run` sends ~2 KB)

_GO_FOLDS_ONTO_ASCII = str.maketrans({"\u017f": "s", "\u212a": "k"})


class Denied(Exception):
    """A refused request: `rule` is a stable id, `field` the offending field, `message` says why."""

    def __init__(self, rule: str, field: str, message: str) -> None:
        super().__init__(f"{rule} ({field}): {message}")
        self.rule = rule
        self.field = field
        self.message = message

    def as_dict(self) -> dict[str, str]:
        """The JSON body of the 403 reply."""
        return {"rule": self.rule, "field": self.field, "detail": self.message}


def fold_key(key: str) -> str:
    """`key` as Go's encoding/json compares it with a struct field name (for ASCII field names)."""
    if key.isascii():
        return key.lower()
    return key.translate(_GO_FOLDS_ONTO_ASCII).lower()


def ci_get(obj: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """`obj[key]` with the key matched case-insensitively, as the engine matches it; `default` if absent."""
    if key in obj:
        return obj[key]
    wanted = fold_key(key)
    for name, value in obj.items():
        if fold_key(name) == wanted:
            return value
    return default


def _folded_keys(keys: Iterable[str]) -> list[str]:
    # One C-level pass when every key is ASCII, which is every key of every real body.
    names = list(keys)
    if "".join(names).isascii():
        return list(map(str.lower, names))
    return [fold_key(name) for name in names]


def folded(obj: Mapping[str, Any]) -> dict[str, str]:
    """Map each folded key of `obj` to the key as sent (parse_json_body guarantees no two fold alike)."""
    return dict(zip(_folded_keys(obj), obj, strict=True))


def reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads object_pairs_hook: the object, or Denied for a key sent twice (exactly, or as Go folds)."""
    # Go keeps the last of two keys that fold alike, and merges two objects under one exact key, while a
    # Python dict would show us only one of them: refuse both shapes outright.
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise Denied("duplicate-key", key, f"The key {key!r} appears twice in one JSON object.")
            seen.add(key)
    if len(result) > 1:
        keys = set(_folded_keys(result))
        if len(keys) != len(result):
            seen = set()
            for key in result:
                if fold_key(key) in seen:
                    raise Denied(
                        "duplicate-key",
                        key,
                        f"The key {key!r} differs only in case from another key in the same JSON object; "
                        "the engine treats them as one field. Send each field once.",
                    )
                seen.add(fold_key(key))
    return result


def query_values(query: Mapping[str, list[str]], name: str) -> list[str]:
    """Every value of a query parameter, its name matched case-insensitively (`name` in lower case).

    dockerd reads the first value of the exact name; checking every value of every spelling covers it.
    """
    found: list[str] = []
    for key, values in query.items():
        if key.lower() == name:
            found.extend(values)
    return found


def _reject_constant(name: str) -> Any:
    raise Denied("bad-json", "body", f"{name} is not valid JSON.")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):  # 1e400: Go refuses it; json.dumps would write invalid JSON back
        raise Denied("bad-json", "body", f"The number {text} is out of range.")
    return value


def check_content_type(content_type: str | None) -> None:
    """Raise Denied unless the media type is application/json (parameters such as charset allowed)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        shown = content_type if content_type else "none"
        raise Denied(
            "bad-content-type",
            "Content-Type",
            f"Content-Type {shown!r} is not accepted here; send the body as application/json.",
        )


def parse_json_body(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """Parse a request body as the engine would, refusing anything it might read differently."""
    if len(raw) > MAX_BODY_BYTES:
        raise Denied(
            "body-too-large",
            "body",
            f"The request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES} bytes.",
        )
    check_content_type(content_type)
    try:
        text = raw.decode("utf-8")  # strict: Go would silently replace invalid bytes with U+FFFD
        value = json.loads(
            text,
            object_pairs_hook=reject_duplicates,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers trailing data too, which Go's streaming decoder would silently ignore.
        raise Denied("bad-json", "body", f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(value, dict):
        raise Denied(
            "body-not-object", "body", f"The request body must be a JSON object, not {type(value).__name__}."
        )
    return value


# -- typed reads: what Go would refuse to decode, we refuse too, so no check reads a value Go reads otherwise


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(value), "number")


def bad_type(field: str, value: Any, wanted: str) -> Denied:
    """The denial for a field of the wrong JSON type."""
    return Denied("bad-field-type", field, f"{field} must be {wanted}, not a JSON {_kind(value)}.")


def as_str(value: Any, field: str) -> str:
    """A JSON string field (null reads as empty)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_type(field, value, "a string")
    return value


def as_map(value: Any, field: str) -> dict[str, Any]:
    """A JSON object field (null reads as empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_type(field, value, "an object")
    return value


def as_list(value: Any, field: str) -> list[Any]:
    """A JSON array field (null reads as empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_type(field, value, "an array")
    return value


def as_strs(value: Any, field: str, *, single_ok: bool = False) -> list[str]:
    """An array of strings; with `single_ok`, also one string (Go's strslice.StrSlice, e.g. CapAdd)."""
    if single_ok and isinstance(value, str):
        return [value]
    items = as_list(value, field)
    for item in items:
        if not isinstance(item, str):
            raise bad_type(field, item, "an array of strings")
    return items


def as_int(value: Any, field: str) -> int:
    """A JSON integer field (null reads as 0); Go refuses 1.5 or 1e9 for an int64, so do we."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_type(field, value, "an integer")
    return value


def is_set_bool(value: Any, field: str) -> bool:
    """A JSON boolean field (null reads as false)."""
    if value is None or value is False:
        return False
    if value is True:
        return True
    raise bad_type(field, value, "a boolean")
