"""The base of every refusal the domain packages raise, and the renderer's own error type.

A refusal carries what a program needs (a stable `code`, the `field` it concerns, its `params`) and what a person
reads: `text`, an English sentence with %(name)s placeholders that is also the translation catalogue's key. The
domain packages never translate (they do not know who reads); the server turns a refusal into words in the
reader's language (server/i18n.py `say`), formatting dates, times and numbers for that language. str() of a
refusal is the English sentence, for logs and for code that has no reader.
"""

from __future__ import annotations


class Term(str):
    """A word of the catalogue given as a refusal's parameter (a field's name, a kind of thing): the server
    translates it along with the sentence; str() is the English word."""


def N_(text: str) -> Term:  # noqa: N802 (the catalogue tools' usual name for a marker)
    """Marks text for the translation catalogue without translating it (it is translated where it is shown)."""
    return Term(text)


# The names of the fields refusals speak of, as a person calls them (translated where they are shown).
FIELD_WORDS = {
    "headline": N_("headline"), "body": N_("body text"), "cta": N_("call to action"), "footer": N_("footer"),
    "url": N_("web address"), "name": N_("name"), "place": N_("place"), "site": N_("site"),
    "district": N_("district"), "label": N_("label"), "title": N_("title"), "text": N_("text"), "group": N_("group"),
}


def term(field: str) -> Term:
    """The word for a field's name (FIELD_WORDS), or the name itself when it has none."""
    return FIELD_WORDS.get(field, Term(field))


class Problem(ValueError):
    """A request that cannot be met, said in a way that can be translated and acted on.

    `text` may use %(name)s placeholders filled from `params`; `code` names the rule that was broken
    ("schedule.end_before_start"); `field` names the input it concerns ("end"), for forms to mark."""

    def __init__(self, text: str, code: str | None = None, field: str | None = None, **params: object) -> None:
        self.text, self.code, self.field, self.params = text, code, field, params
        super().__init__(self.english())

    def english(self) -> str:
        """The sentence in English, with the parameters as Python prints them."""
        if not self.params:
            return self.text
        try:
            return self.text % {name: _plain(value) for name, value in self.params.items()}
        except (KeyError, ValueError, TypeError):
            return f"{self.text} {self.params}"


def _plain(value: object) -> object:
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(v) for v in value)
    return value


class RenderError(Problem):
    """A poster request that cannot be rendered; the message says what was wrong."""
