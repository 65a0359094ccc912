"""Field mapping shared by the record readers: which key holds the title, how authors and years are written.

Each source names things its own way (CSL-JSON `issued.date-parts`, arXiv `update_date`, Semantic
Scholar author objects, Zotero's CSV `Abstract Note`); this module turns any of them into the
fields of a Paper. Authors always end up as "Given Family" strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ingest.identity import arxiv_id_in, normalize_arxiv_id, normalize_doi
from ingest.records import Location, Paper, Problem, ReadResult


def key_form(name: object) -> str:
    """A field or column name compared loosely: `Abstract Note`, `abstract_note`, `abstractNote` alike."""
    return re.sub(r"[^0-9a-z]+", "", str(name).lower())


# Accepted names for each field, in key_form, most specific first.
TITLE_KEYS = ("title", "papertitle", "name", "articletitle", "documenttitle", "displayname", "primarytitle")
ABSTRACT_KEYS = ("abstract", "abstractnote", "summary", "abstracttext", "description", "notesabstract")
AUTHOR_KEYS = ("authorsparsed", "authors", "author", "authorships", "creators", "authorfullnames", "firstauthors")
# arXiv: `versions` (the first one's `created` is the paper's date) before `update_date`.
YEAR_KEYS = ("year", "publicationyear", "issued", "published", "date", "publicationdate", "datepublished",
             "versions", "updatedate", "created")
URL_KEYS = ("url", "link", "landingpageurl", "pdfurl", "urls")
DOI_KEYS = ("doi",)
ARXIV_KEYS = ("arxivid", "arxiv", "eprint")
TAG_KEYS = ("tags", "keywords", "manualtags", "automatictags")
# The names a CSV header's message lists as accepted.
ACCEPTED_TITLE_NAMES = ("title", "paper_title", "name", "Article Title", "Document Title")
ACCEPTED_ABSTRACT_NAMES = ("abstract", "Abstract Note", "summary", "abstract_text", "description")


def lookup(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record's non-empty fields under their key_form (the first of two colliding names wins)."""
    found: dict[str, Any] = {}
    for key, value in record.items():
        if value not in (None, "", [], {}):
            found.setdefault(key_form(key), value)
    return found


def pick(fields: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        value = fields.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


# ---- authors -----------------------------------------------------------------------------------

AFFILIATION = re.compile(r"\s*\([^()]*\)")  # arXiv's "A. Author (MIT), B. Author (CMU)"


def flip_name(name: str) -> str:
    """`Family, Given` -> `Given Family`; `Family, Jr., Given` -> `Given Family Jr.`; others unchanged."""
    parts = [part.strip() for part in name.split(",")]
    if len(parts) == 2 and all(parts):
        return f"{parts[1]} {parts[0]}"
    if len(parts) == 3 and all(parts):
        return f"{parts[2]} {parts[0]} {parts[1]}"
    return name.strip()


def _inverted_pair(text: str) -> bool:
    """`Doe, Jane` or `van der Berg, J. A.` is one inverted name; `Jane Doe, John Smith` is two names."""
    parts = [part.strip() for part in text.split(",")]
    return len(parts) == 2 and all(parts) and (len(parts[0].split()) == 1 or len(parts[1].split()) == 1
                                               or bool(re.fullmatch(r"(?:[A-Z]\.\s*)+", parts[1])))


def split_author_string(text: str) -> list[str]:
    """One string naming several authors, in the ways sources write it.

    `A; B` and `Family, Given; Family, Given` (Zotero CSV, RIS exports); `Family, Given and Family,
    Given` (BibTeX style); `A, B and C` (arXiv); `Doe, Jane` (one author, inverted); `A, B, C`.
    """
    text = AFFILIATION.sub("", text).strip()
    if not text:
        return []
    if ";" in text or "|" in text:
        return [flip_name(part) for part in re.split(r"[;|]", text) if part.strip()]
    parts = [part for part in re.split(r"\s+and\s+", text) if part.strip()]
    if len(parts) > 1 and all(_inverted_pair(part) for part in parts):
        return [flip_name(part) for part in parts]
    if len(parts) == 1 and _inverted_pair(text):
        return [flip_name(text)]
    names: list[str] = []
    for part in parts:
        names += [name.strip() for name in part.split(",") if name.strip()]
    return names


def author_name(value: Any) -> str | None:
    """One author from a string or an object: CSL `{family, given}`, Semantic Scholar `{name}`,
    OpenAlex `{author: {display_name}}`. Never the object's text."""
    if isinstance(value, str):
        return flip_name(value) or None
    if isinstance(value, list | tuple):  # arXiv's authors_parsed: [family, given, suffix]
        family, given, *rest = [*map(str, value), "", ""]
        return " ".join(part for part in (given, family, *rest[:1]) if part.strip()) or None
    if not isinstance(value, Mapping):
        return None
    fields = lookup(value)
    if "author" in fields and isinstance(fields["author"], Mapping):  # OpenAlex authorship
        return author_name(fields["author"]) or author_name(fields.get("rawauthorname"))
    if "family" in fields or "given" in fields:  # CSL-JSON
        family = " ".join(str(fields[k]) for k in ("nondroppingparticle", "family") if fields.get(k))
        parts = [fields.get("given"), fields.get("droppingparticle"), family, fields.get("suffix")]
        return " ".join(str(part) for part in parts if part) or None
    if "lastname" in fields or "firstname" in fields:
        return " ".join(str(fields[k]) for k in ("firstname", "lastname") if fields.get(k)) or None
    for key in ("literal", "name", "displayname", "fullname", "rawauthorname"):
        if isinstance(fields.get(key), str):
            return flip_name(fields[key]) or None
    return None


def authors_of(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return split_author_string(value)
    if isinstance(value, list | tuple):
        if all(isinstance(item, str) for item in value) and any(";" in item for item in value):
            return [name for item in value for name in split_author_string(item)]
        return [name for name in map(author_name, value) if name]
    name = author_name(value)
    return [name] if name else []


# ---- years, links, identifiers -------------------------------------------------------------------

YEAR = re.compile(r"(?<!\d)(1[89]\d\d|2\d\d\d)(?!\d)")


def year_of(value: Any) -> int | None:
    """2020 from `2020`, `2020-05-13`, `2020///`, `Fri, 4 Oct 2019 ...` or CSL `{"date-parts": [[2020, 5]]}`."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if 1800 <= value <= 2999 else None
    if isinstance(value, Mapping):
        fields = lookup(value)
        parts = fields.get("dateparts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            return year_of(parts[0][0])
        return year_of(pick(fields, ("raw", "literal", "year", "created")))
    if isinstance(value, list):  # arXiv versions: the first one is the paper's date
        return year_of(value[0]) if value else None
    match = YEAR.search(str(value))
    return int(match.group(1)) if match else None


def first_url(value: Any) -> str | None:
    """The first http(s) URL in a field (a string or RIS's list of URLs); other schemes are not links."""
    candidates = value if isinstance(value, list) else [value]
    for candidate in candidates:
        if isinstance(candidate, str) and re.match(r"https?://", candidate.strip(), re.IGNORECASE):
            return candidate.strip()
    return None


def tags_of(value: Any) -> list[str]:
    """Tags as a list: a list of strings or of `{tag: ...}` objects, or one `;`/`,`-separated string."""
    if isinstance(value, str):
        parts = re.split(r"\s*;\s*", value) if ";" in value else re.split(r"\s*,\s*", value)
        return [part.strip() for part in parts if part.strip()]
    if isinstance(value, list):
        tags = [item if isinstance(item, str) else (lookup(item).get("tag") or lookup(item).get("name"))
                if isinstance(item, Mapping) else None for item in value]
        return [str(tag).strip() for tag in tags if tag and str(tag).strip()]
    return []


# ---- OpenAlex ----------------------------------------------------------------------------------


def rebuilt_abstract(inverted_index: Any) -> str | None:
    """OpenAlex ships abstracts as {word: [positions]}; the words put back in position order."""
    if not isinstance(inverted_index, Mapping):
        return None
    placed: dict[int, str] = {}
    for word, positions in inverted_index.items():
        if isinstance(positions, list):
            for position in positions:
                if isinstance(position, int):
                    placed[position] = str(word)
    return " ".join(placed[position] for position in sorted(placed)) or None


# ---- the record ------------------------------------------------------------------------------------


def paper_from_mapping(record: Mapping[str, Any], where: Location, source: str,
                       label: str = "record") -> Paper | Problem:
    """Map a dict-like record (JSON, CSL-JSON, CSV row, RIS entry) to a Paper, or say which field is missing.

    `label` names the record in messages: "record", or "entry 'smith2020'" for keyed formats.
    """
    fields = lookup(record)
    title = pick(fields, TITLE_KEYS)
    if isinstance(title, list):  # CSL-JSON and RIS may repeat a field; the first one is the title
        title = next((item for item in title if isinstance(item, str) and item.strip()), None)
    abstract = pick(fields, ABSTRACT_KEYS) or rebuilt_abstract(fields.get("abstractinvertedindex"))
    if not isinstance(title, str) or not title.strip():
        return Problem(where, f"{label} has no 'title' field (or it is empty); skipped")
    if not isinstance(abstract, str) or not abstract.strip():
        named = "" if label == "record" else f"{label}: "
        return Problem(where, f"{named}title {title.strip()[:60]!r} has no 'abstract' field (or it is empty); skipped")
    external = lookup(fields["externalids"]) if isinstance(fields.get("externalids"), Mapping) else {}
    ids = lookup(fields["ids"]) if isinstance(fields.get("ids"), Mapping) else {}
    url = first_url(pick(fields, URL_KEYS))
    location = fields.get("primarylocation")
    if url is None and isinstance(location, Mapping):
        url = first_url(lookup(location).get("landingpageurl"))
    doi = normalize_doi(pick(fields, DOI_KEYS)) or normalize_doi(external.get("doi")) or normalize_doi(ids.get("doi"))
    arxiv = (normalize_arxiv_id(pick(fields, ARXIV_KEYS)) or normalize_arxiv_id(external.get("arxiv"))
             or arxiv_id_in(doi, url, fields.get("number"), fields.get("note"), fields.get("extra"),
                            fields.get("journal"), fields.get("archiveid"), *_strings(fields.get("notes"))))
    tags = [tag for key in TAG_KEYS for tag in tags_of(fields.get(key))]
    return Paper(
        title=title,
        abstract=abstract,
        authors=authors_of(pick(fields, AUTHOR_KEYS)),
        year=year_of(pick(fields, YEAR_KEYS)),
        url=url,
        doi=doi,
        arxiv_id=arxiv,
        metadata={"tags": list(dict.fromkeys(tags))} if tags else {},
        sources=[source],
    )


def _strings(value: Any) -> list[str]:
    """A field that may be one string or a list of them (RIS repeats `N1`)."""
    if isinstance(value, str):
        return [value]
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def add_item(result: ReadResult, item: Paper | Problem) -> None:
    if isinstance(item, Paper):
        result.papers.append(item)
    else:
        result.problems.append(item)
