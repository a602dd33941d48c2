"""The text side of the content policy: operator terms and regex patterns, matched through evasions."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from reelserve.catalog.params import field_or_none
from reelserve.service.moderation import normalize
from reelserve.service.moderation.default_rules import DEFAULT_PATTERNS, DEFAULT_TERMS, may_match_default_patterns

PATTERN_PREFIX = "re:"


def blocked_message(param: str) -> str:
    """What the user is told; it never repeats the blocked words."""
    return f"{param} was blocked by this server's content policy"


@dataclass(frozen=True)
class PolicyMatch:
    param: str
    rule: str
    """The term or pattern that matched, for the operator's logs; never shown to the user."""
    message: str
    """For the user; does not repeat the blocked words."""


@dataclass(frozen=True)
class _Rule:
    name: str
    regex: re.Pattern[str]
    may_match: Callable[[str], bool] | None = None
    """A quick test that is False only where `regex` cannot match, to skip searching with it."""


def _has_letter(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"content policy pattern {pattern!r} is not a valid regex: {exc}") from exc


class TextPolicy:
    """Terms match whole words of the canonical form; patterns are regexes tried on every text form.

    See `normalize` for the forms. Terms see through spacing, punctuation, look-alike letters,
    leetspeak, diacritics and repeated letters; patterns see the forms but match as written.
    """

    def __init__(self, terms: Iterable[_Rule], patterns: Iterable[_Rule]) -> None:
        self._terms = tuple(terms)
        self._patterns = tuple(patterns)
        self._any_term = normalize.any_term_regex([rule.name for rule in self._terms]) if self._terms else None

    @classmethod
    def from_config(
        cls, terms: Iterable[str], patterns: Iterable[str], *, include_defaults: bool = False
    ) -> TextPolicy:
        term_rules = [_Rule(term, normalize.term_regex(term)) for term in terms if term.strip()]
        pattern_rules = [_Rule(pattern, _compile_pattern(pattern)) for pattern in patterns if pattern]
        policy = cls(term_rules, pattern_rules)
        return cls.default().combined_with(policy) if include_defaults else policy

    @classmethod
    def default(cls) -> TextPolicy:
        """The built-in rules: sexual content involving minors and non-consensual intimate imagery."""
        terms = [_Rule(term, normalize.term_regex(term)) for term in DEFAULT_TERMS]
        patterns = [
            _Rule(name, _compile_pattern(pattern), may_match_default_patterns) for name, pattern in DEFAULT_PATTERNS
        ]
        return cls(terms, patterns)

    @classmethod
    def load(cls, path: str | Path) -> TextPolicy:
        """Reads the operator's policy file, which extends the built-in rules.

        A `.toml` file has `terms` and `patterns` (lists of strings) and may set
        `include_defaults = false` to drop the built-in rules. Any other file is plain text:
        one term per line, `re:` before a regex pattern, `#` starting a comment line.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read content policy file {path}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise ValueError(f"content policy file {path} is not UTF-8 text") from exc
        if path.suffix.lower() == ".toml":
            terms, patterns, include_defaults = _parse_toml(path, text)
        else:
            terms, patterns, include_defaults = _parse_plain_text(text)
        return cls.from_config(terms, patterns, include_defaults=include_defaults)

    def combined_with(self, other: TextPolicy) -> TextPolicy:
        return TextPolicy([*self._terms, *other._terms], [*self._patterns, *other._patterns])

    def __len__(self) -> int:
        return len(self._terms) + len(self._patterns)

    def matching_rule(self, text: str) -> str | None:
        """The name of the first rule `text` breaks, or None."""
        if not text:
            return None
        tokens = normalize.tokens(text)
        words = normalize.term_view_of(tokens)
        if self._any_term is not None and self._any_term.search(words) is not None:
            for rule in self._terms:
                # A match made only of digits and symbols ("error 1011") is a number, not leetspeak.
                if any(_has_letter(found.group()) for found in rule.regex.finditer(words)):
                    return rule.name
        if self._patterns:
            views = normalize.pattern_views(text, tokens)
            searched: dict[Callable[[str], bool] | None, list[str]] = {None: views}
            for rule in self._patterns:
                candidates = searched.get(rule.may_match)
                if candidates is None:
                    candidates = searched[rule.may_match] = [view for view in views if rule.may_match(view)]
                if any(rule.regex.search(view) for view in candidates):
                    return rule.name
        return None

    def check(self, texts: Mapping[str, str | None]) -> PolicyMatch | None:
        """`texts` maps parameter names ("prompt", "multi_prompt[0].prompt") to their text."""
        for param, text in texts.items():
            rule = self.matching_rule(text or "")
            if rule is not None:
                return PolicyMatch(param, rule, blocked_message(param))
        return None


def _string_list(path: Path, data: dict[str, object], key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"content policy file {path}: {key} must be a list of strings")
    return value


def _parse_toml(path: Path, text: str) -> tuple[list[str], list[str], bool]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"content policy file {path} is not valid TOML: {exc}") from exc
    include_defaults = data.get("include_defaults", True)
    if not isinstance(include_defaults, bool):
        raise ValueError(f"content policy file {path}: include_defaults must be true or false")
    return _string_list(path, data, "terms"), _string_list(path, data, "patterns"), include_defaults


def _parse_plain_text(text: str) -> tuple[list[str], list[str], bool]:
    terms: list[str] = []
    patterns: list[str] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(PATTERN_PREFIX):
            patterns.append(line.removeprefix(PATTERN_PREFIX).strip())
        else:
            terms.append(line)
    return terms, patterns, True


def prompt_texts(params: BaseModel) -> dict[str, str]:
    """The texts of a request the policy checks, by parameter name: prompt, negative_prompt and
    each multi_prompt segment's prompt, from any route's parsed parameters."""
    texts: dict[str, str] = {}
    for name in ("prompt", "negative_prompt"):
        value = field_or_none(params, name)
        if isinstance(value, str):
            texts[name] = value
    for position, segment in enumerate(field_or_none(params, "multi_prompt") or []):
        value = getattr(segment, "prompt", None)
        if isinstance(value, str):
            texts[f"multi_prompt[{position}].prompt"] = value
    return texts
