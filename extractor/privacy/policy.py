"""The privacy policy: an action per attribute, from the site's seed over the built-in profile.

`seeds/dicom_privacy.csv` (the site's rows) wins over `seeds/dicom_privacy_profile.csv` (DICOM
PS3.15 Table E.1-1, applied when dbt_project.yml's `privacy_profile` var is `basic`); an attribute
neither names is kept. Within each, an exact tag wins over a private attribute named by its
creator, which wins over a tag pattern (fewer `x` first), which wins over `private` (every
private attribute). The same rows reach this module from the seed files (the landing option,
the checks before a build) and from the warehouse's seeds (the SQL functions, as JSON), so one
parser decides for both.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

POLICY_SEED = Path("seeds") / "dicom_privacy.csv"
PROFILE_SEED = Path("seeds") / "dicom_privacy_profile.csv"
PROFILE_VAR = "privacy_profile"
PROFILES = ("none", "basic")
ACTIONS = ("keep", "drop", "hash", "shift")
PRIVATE = "private"
KEY_UIDS = {
    "0020000D": "StudyInstanceUID",
    "0020000E": "SeriesInstanceUID",
    "00080018": "SOPInstanceUID",
}
"""The instance, series and study keys: pseudonymised or kept, never dropped or shifted."""

_TAG = re.compile(r"[0-9A-F]{8}")
_PATTERN = re.compile(r"[0-9A-FX]{8}")
_PRIVATE_ATTRIBUTE = re.compile(r"([0-9A-F]{3}[13579BDF])XX([0-9A-F]{2})")


@dataclass(frozen=True)
class PolicyProblem:
    """Why one row of a policy seed cannot be applied."""

    seed: str
    line: int  # the CSV file's line, the header being line 1
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.seed} line {self.line}, column {self.column}: {self.reason}"


class PolicyError(ValueError):
    """The privacy policy's seeds or var hold something that cannot be applied."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        super().__init__(
            "the privacy policy cannot be applied; fix it and build again (docs/privacy.md):\n"
            + "\n".join(f"  {problem}" for problem in problems)
        )


@dataclass(frozen=True)
class Rule:
    """One row of a policy seed."""

    attribute: str  # a tag, a pattern with x, ggggxxee with a creator, or `private`
    action: str
    private_creator: str | None = None
    profile: bool = False  # from the built-in profile rather than the site's seed


@dataclass
class _Layer:
    """The rules of one seed, indexed for lookup."""

    exact: dict[str, str] = field(default_factory=dict)
    private_attributes: dict[tuple[str, str, str], str] = field(default_factory=dict)
    patterns: list[tuple[re.Pattern[str], str]] = field(default_factory=list)
    private: str | None = None

    def add(self, rule: Rule) -> None:
        attribute = rule.attribute.upper()
        if attribute == PRIVATE.upper():
            self.private = rule.action
        elif rule.private_creator is not None:
            group, offset = _PRIVATE_ATTRIBUTE.fullmatch(attribute).groups()  # type: ignore[union-attr]
            self.private_attributes[(group, rule.private_creator, offset)] = rule.action
        elif _TAG.fullmatch(attribute):
            self.exact[attribute] = rule.action
        else:
            self.patterns.append((re.compile(attribute.replace("X", "[0-9A-F]")), rule.action))
            self.patterns.sort(key=lambda pattern: pattern[0].pattern.count("["))

    def find(self, tag: str, block: tuple[str, str, str] | None) -> str | None:
        if tag in self.exact:
            return self.exact[tag]
        if block is not None and block in self.private_attributes:
            return self.private_attributes[block]
        for pattern, action in self.patterns:
            if pattern.fullmatch(tag):
                return action
        return self.private if int(tag[:4], 16) % 2 else None

    def keeps_block(self, group: str, creator: str) -> bool:
        return any(
            (block_group, block_creator) == (group, creator) and action != "drop"
            for (block_group, block_creator, _), action in self.private_attributes.items()
        )


class Policy:
    """What happens to each attribute, wherever it is (top level or inside a sequence's items)."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = tuple(rules)
        self._site, self._profile = _Layer(), _Layer()
        self._actions: dict[tuple[str, tuple[str, str, str] | None], str] = {}
        for rule in self.rules:
            (self._profile if rule.profile else self._site).add(rule)
        self.needs_key = any(rule.action in ("hash", "shift") for rule in self.rules)
        self.shifts_dates = any(rule.action == "shift" for rule in self.rules)
        self.fingerprint = hashlib.sha256(self.to_json().encode()).hexdigest()[:16]
        """Names the policy (not the key) in the documents and landed rows it protected."""

    def action(self, tag: str, block: tuple[str, str, str] | None = None) -> str:
        """The action for a tag (upper-case hex); `block` names a private attribute's
        (group, creator, element offset)."""
        # documents repeat the same few hundred tags: each is looked up once
        found = self._actions.get((tag, block))
        if found is None:
            found = self._site.find(tag, block) or self._profile.find(tag, block) or "keep"
            self._actions[(tag, block)] = found
        return found

    def keeps_creator(self, group: str, creator: str) -> bool:
        """Whether a private creator element stays: when its block keeps an attribute, which
        the projection finds through it."""
        return self._site.keeps_block(group, creator) or self._profile.keeps_block(group, creator)

    def to_json(self) -> str:
        """The rules as the SQL functions receive them (macros/privacy/protect.sql)."""
        return json.dumps([_row(rule) for rule in self.rules], separators=(",", ":"))

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, object]]) -> Policy:
        """The policy of seed rows (attribute, private_creator, action, profile); raises
        PolicyError naming the rows that cannot be applied."""
        rules, problems = [], []
        for line, row in enumerate(rows, start=2):
            seed = str(PROFILE_SEED if row.get("profile") else POLICY_SEED)
            rule, row_problems = _rule(seed, line, row)
            rules.append(rule)
            problems += row_problems
        if problems:
            raise PolicyError(problems)
        return cls(rules)


def _row(rule: Rule) -> dict[str, object]:
    row: dict[str, object] = {"attribute": rule.attribute, "action": rule.action}
    if rule.private_creator is not None:
        row["private_creator"] = rule.private_creator
    if rule.profile:
        row["profile"] = True
    return row


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _rule(seed: str, line: int, row: Mapping[str, object]) -> tuple[Rule, list[PolicyProblem]]:
    attribute, action = _text(row.get("attribute")), _text(row.get("action")).lower()
    creator = _text(row.get("private_creator")) or None
    problems = []

    def problem(column: str, reason: str) -> None:
        problems.append(PolicyProblem(seed, line, column, reason))

    upper = attribute.upper()
    if action not in ACTIONS:
        problem("action", f"{action or '(empty)'!r} is not one of {', '.join(ACTIONS)}")
    if creator is not None:
        if not _PRIVATE_ATTRIBUTE.fullmatch(upper):
            problem(
                "attribute",
                f"{attribute!r} with a private_creator must be ggggxxee: an odd group, xx for "
                "the block, the element offset (for example 0019xx10)",
            )
    elif upper != PRIVATE.upper() and not _PATTERN.fullmatch(upper):
        problem(
            "attribute",
            f"{attribute or '(empty)'!r} is not a tag (8 hex digits, x for any digit, e.g. "
            "00100010 or 50xxxxxx) nor `private`",
        )
    if upper in KEY_UIDS and action in ("drop", "shift"):
        problem(
            "action",
            f"{KEY_UIDS[upper]} is a key of the lake's tables: keep it or hash it",
        )
    return Rule(attribute, action, creator, bool(row.get("profile"))), problems


def _read_seed(path: Path, profile: bool) -> list[dict[str, object]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as seed:
        return [{**row, "profile": profile} for row in csv.DictReader(seed)]


def profile_of(project: Path) -> str:
    """The `privacy_profile` var of the project's dbt_project.yml (`none` when absent)."""
    declared = yaml.safe_load((project / "dbt_project.yml").read_text()).get("vars") or {}
    profile = str(declared.get(PROFILE_VAR, "none")).strip().lower()
    if profile not in PROFILES:
        raise PolicyError(
            [
                PolicyProblem(
                    "dbt_project.yml",
                    0,
                    f"vars.{PROFILE_VAR}",
                    f"{profile!r} is not one of {', '.join(PROFILES)}",
                )
            ]
        )
    return profile


def load_policy(project: Path) -> Policy | None:
    """The project's policy, or None when it keeps everything (no profile, no site rows)."""
    return _load_policy(project.resolve(), _seeds_state(project.resolve()))


def _seeds_state(project: Path) -> tuple[float, ...]:
    paths = (project / "dbt_project.yml", project / POLICY_SEED, project / PROFILE_SEED)
    return tuple(path.stat().st_mtime if path.exists() else 0.0 for path in paths)


@cache
def _load_policy(project: Path, _state: tuple[float, ...]) -> Policy | None:
    rows = _read_seed(project / POLICY_SEED, profile=False)
    site = Policy.from_rows(rows)  # named by its own lines
    profile_rows = (
        _read_seed(project / PROFILE_SEED, profile=True) if profile_of(project) == "basic" else []
    )
    if not site.rules and not profile_rows:
        return None
    return Policy([*site.rules, *Policy.from_rows(profile_rows).rules])


@cache
def policy_from_json(text: str) -> Policy:
    """The policy the SQL functions receive (cached: every row of a query passes the same)."""
    return Policy.from_rows(json.loads(text))


def check_policy(project: Path) -> Policy | None:
    """The project's policy, checked: PolicyError names rows that cannot be applied,
    PrivacyKeyError a key the policy needs and the environment lacks."""
    from extractor.privacy.keyed import check_key

    policy = load_policy(project)
    if policy is not None and policy.needs_key:
        check_key()
    return policy
