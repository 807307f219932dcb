"""Prompts are files in ``prompts/`` (the package ``followup.prompts``: its data, read with
``importlib.resources``, so an installed wheel and the checkout read the same files), loaded
from one place and rendered strictly.

Each template may start with YAML front matter naming its ``variables``; the placeholders in the
text (``{name}``) must be exactly those, and rendering needs exactly those: a missing or extra
variable fails loudly. Fixed texts (disclaimer, refusal, patient note) have no variables.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

import yaml

from followup.errors import FollowupError

PROMPTS_DIR: Traversable = files(__name__)


class PromptError(FollowupError):
    """A prompt file is missing or breaks its contract."""


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str
    variables: frozenset[str]

    def render(self, **values: str) -> str:
        """Fill the template; the keys must be exactly the declared variables."""
        given = set(values)
        if given != self.variables:
            raise PromptError(
                f"prompt {self.name!r} takes {sorted(self.variables)}, got {sorted(given)}"
            )
        return self.text.format(**values)


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


@cache
def load_prompt(name: str, folder: Traversable = PROMPTS_DIR) -> Prompt:
    """Read ``prompts/<name>.md`` and check its variables against its placeholders."""
    path = folder.joinpath(f"{name}.md")
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PromptError(f"prompt file {path} is missing; restore it from git or reinstall "
                          "followup") from exc
    declared: set[str] = set()
    text = raw
    if raw.startswith("---\n"):
        end = raw.index("\n---\n", 4)
        meta = yaml.safe_load(raw[4:end]) or {}
        declared = set(meta.get("variables") or [])
        text = raw[end + 5:]
    text = text.strip()
    found = placeholders(text)
    if found != declared:
        raise PromptError(
            f"prompt {name!r} declares {sorted(declared)} but uses {sorted(found)}; fix {path}"
        )
    return Prompt(name, text, frozenset(declared))


def fixed_text(name: str) -> str:
    """A prompt file without variables (disclaimer, refusal, patient note)."""
    return load_prompt(name).render()


def disclaimer() -> str:
    return fixed_text("disclaimer")


def refusal() -> str:
    """The one refusal wording, shared by the composers, the chat and the evals."""
    return fixed_text("refusal")
