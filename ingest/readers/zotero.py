"""A Zotero library read directly from its `zotero.sqlite`: no Zotero account, no network, nothing written.

Zotero keeps an exclusive lock on its database while it runs, so the file is opened read-only in
SQLite's immutable mode, which takes no lock at all: it reads even while Zotero runs and can never
change the file. (What it reads then is the library as last written to disk; a write landing
mid-read shows as an error, reported with the advice to close Zotero or ingest a copy.)

Every regular item (not an attachment, note or annotation, not in the trash) with a title and an
abstract becomes a paper; its authors, date, DOI, URL, arXiv id, collections (as paths,
"Parent/Child") and tags come along. The schema names are Zotero's own (items, itemData,
itemDataValues, fields, creators, itemCreators, collections, collectionItems, tags, itemTags,
deletedItems).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path
from urllib.request import pathname2url

from ingest.identity import arxiv_id_in, normalize_doi
from ingest.readers.fields import first_url, year_of
from ingest.records import Location, Paper, Problem, ReadResult

ZOTERO_DB_NAME = "zotero.sqlite"
SKIPPED_TYPES = ("attachment", "note", "annotation")
REQUIRED_TABLES = {"items", "itemTypes", "fields", "itemData", "itemDataValues", "creators", "itemCreators"}


def is_zotero_dir(path: Path) -> bool:
    return (path / ZOTERO_DB_NAME).is_file()


def open_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{pathname2url(str(path.resolve()))}?mode=ro&immutable=1", uri=True)


def read_zotero(path: Path) -> ReadResult:
    where = Location(str(path), 0)
    try:
        db = open_read_only(path)
    except sqlite3.Error as exc:
        return ReadResult(problems=[Problem(where, f"cannot open the Zotero database ({exc}); skipped")])
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables >= REQUIRED_TABLES:
            missing = ", ".join(sorted(REQUIRED_TABLES - tables))
            return ReadResult(problems=[Problem(where, f"not a Zotero database (no table {missing}); skipped")])
        return _read_items(db, path, tables)
    except sqlite3.Error as exc:
        return ReadResult(problems=[Problem(where, f"cannot read the Zotero database ({exc}); close Zotero, or "
                                            f"copy {path.name} and ingest the copy")])
    finally:
        db.close()


def _read_items(db: sqlite3.Connection, path: Path, tables: set[str]) -> ReadResult:
    trash = "AND i.itemID NOT IN (SELECT itemID FROM deletedItems)" if "deletedItems" in tables else ""
    marks = ", ".join("?" * len(SKIPPED_TYPES))
    items = db.execute(
        f"SELECT i.itemID, i.key FROM items i JOIN itemTypes t ON t.itemTypeID = i.itemTypeID "
        f"WHERE t.typeName NOT IN ({marks}) {trash} ORDER BY i.itemID", SKIPPED_TYPES).fetchall()
    values: dict[int, dict[str, str]] = defaultdict(dict)
    for item_id, name, value in db.execute(
            "SELECT d.itemID, f.fieldName, v.value FROM itemData d JOIN fields f ON f.fieldID = d.fieldID "
            "JOIN itemDataValues v ON v.valueID = d.valueID"):
        values[item_id][name] = str(value)
    authors = _authors(db, tables)
    collections = _collections(db, tables)
    tags = _tags(db, tables)
    result = ReadResult()
    for item_id, key in items:
        fields = values.get(item_id, {})
        title, abstract = fields.get("title", "").strip(), fields.get("abstractNote", "").strip()
        where = Location(str(path), 0)
        if not title:
            result.problems.append(Problem(where, f"item {key}: no title; skipped"))
            continue
        if not abstract:
            result.problems.append(Problem(where, f"item {key} ({title[:60]!r}): no abstract; skipped"))
            continue
        metadata = {name: found for name, found in (("collections", collections.get(item_id, [])),
                                                    ("tags", tags.get(item_id, []))) if found}
        result.papers.append(Paper(
            title=title,
            abstract=abstract,
            authors=authors.get(item_id, []),
            # Zotero stores a date as "2020-05-13 2020-05-13" (sortable, then as typed); the year leads both.
            year=year_of(fields.get("date")),
            url=first_url(fields.get("url")),
            doi=normalize_doi(fields.get("DOI")),
            arxiv_id=arxiv_id_in(fields.get("archiveID"), fields.get("DOI"), fields.get("url"), fields.get("extra")),
            metadata=metadata,
            sources=[f"{path.name}:item {key}"],
        ))
    return result


def _authors(db: sqlite3.Connection, tables: set[str]) -> dict[int, list[str]]:
    """Authors in Zotero's order; only editors or other creators when an item has no author."""
    has_types = "creatorTypes" in tables
    rows = db.execute(
        "SELECT ic.itemID, c.firstName, c.lastName, c.fieldMode, "
        + ("ct.creatorType " if has_types else "'author' ")
        + "FROM itemCreators ic JOIN creators c ON c.creatorID = ic.creatorID "
        + ("LEFT JOIN creatorTypes ct ON ct.creatorTypeID = ic.creatorTypeID " if has_types else "")
        + "ORDER BY ic.itemID, ic.orderIndex").fetchall()
    authors: dict[int, list[str]] = defaultdict(list)
    others: dict[int, list[str]] = defaultdict(list)
    for item_id, first, last, field_mode, creator_type in rows:
        # fieldMode 1: a single-field name (an organisation), kept whole in lastName.
        name = (last or "") if field_mode == 1 else " ".join(part for part in (first, last) if part)
        if name.strip():
            (authors if creator_type == "author" else others)[item_id].append(name.strip())
    return {item_id: authors.get(item_id) or others[item_id] for item_id in set(authors) | set(others)}


def _collections(db: sqlite3.Connection, tables: set[str]) -> dict[int, list[str]]:
    if not {"collections", "collectionItems"} <= tables:
        return {}
    rows = db.execute("SELECT collectionID, collectionName, parentCollectionID FROM collections").fetchall()
    parents = {cid: (name, parent) for cid, name, parent in rows}

    def full_name(collection_id: int) -> str:
        names: list[str] = []
        seen: set[int] = set()
        current: int | None = collection_id
        while current is not None and current in parents and current not in seen:  # a cycle cannot loop
            seen.add(current)
            name, current = parents[current]
            names.append(str(name))
        return "/".join(reversed(names))

    found: dict[int, list[str]] = defaultdict(list)
    for item_id, collection_id in db.execute("SELECT itemID, collectionID FROM collectionItems "
                                             "ORDER BY itemID, collectionID"):
        found[item_id].append(full_name(collection_id))
    return {item_id: sorted(names) for item_id, names in found.items()}


def _tags(db: sqlite3.Connection, tables: set[str]) -> dict[int, list[str]]:
    if not {"tags", "itemTags"} <= tables:
        return {}
    found: dict[int, list[str]] = defaultdict(list)
    for item_id, name in db.execute("SELECT it.itemID, t.name FROM itemTags it JOIN tags t ON t.tagID = it.tagID "
                                    "ORDER BY it.itemID, t.name"):
        found[item_id].append(str(name))
    return dict(found)
