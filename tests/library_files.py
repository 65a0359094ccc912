"""Files as researchers' tools write them: the fixtures under tests/data/formats/, plus a Zotero database
and PDFs built here (a binary database and generated PDFs are clearer as code than as checked-in blobs).

`build_zotero_sqlite` follows Zotero's own schema (names and columns of items, itemTypes, fields,
itemData, itemDataValues, creators, itemCreators, creatorTypes, collections, collectionItems, tags,
itemTags, deletedItems, libraries), trimmed to what an item needs. `write_paper_pdf` lays out a
first page as a paper has one: a large title, authors, an "Abstract" heading, the abstract, then
"1 Introduction"; optionally arXiv's rotated identifier stamp in the left margin.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

FORMATS_DIR = Path(__file__).resolve().parent / "data" / "formats"
# The abstracts the fixtures were written with (tests/data/formats/abstracts.json), by short name.
ABSTRACTS: dict[str, str] = json.loads((FORMATS_DIR / "abstracts.json").read_text(encoding="utf-8"))

ZOTERO_SCHEMA = """
CREATE TABLE libraries (libraryID INTEGER PRIMARY KEY, type TEXT NOT NULL, editable INT NOT NULL,
    filesEditable INT NOT NULL, version INT NOT NULL DEFAULT 0, storageVersion INT NOT NULL DEFAULT 0,
    lastSync INT NOT NULL DEFAULT 0, archived INT NOT NULL DEFAULT 0);
CREATE TABLE itemTypes (itemTypeID INTEGER PRIMARY KEY, typeName TEXT, templateItemTypeID INT, display INT DEFAULT 1);
CREATE TABLE fields (fieldID INTEGER PRIMARY KEY, fieldName TEXT, fieldFormatID INT);
CREATE TABLE creatorTypes (creatorTypeID INTEGER PRIMARY KEY, creatorType TEXT);
CREATE TABLE items (itemID INTEGER PRIMARY KEY, itemTypeID INT NOT NULL,
    dateAdded TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, dateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, libraryID INT NOT NULL, key TEXT NOT NULL,
    version INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0, UNIQUE (libraryID, key),
    FOREIGN KEY (libraryID) REFERENCES libraries(libraryID) ON DELETE CASCADE);
CREATE TABLE itemDataValues (valueID INTEGER PRIMARY KEY, value UNIQUE);
CREATE TABLE itemData (itemID INT, fieldID INT, valueID, PRIMARY KEY (itemID, fieldID),
    FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE,
    FOREIGN KEY (valueID) REFERENCES itemDataValues(valueID));
CREATE TABLE creators (creatorID INTEGER PRIMARY KEY, firstName TEXT, lastName TEXT, fieldMode INT,
    UNIQUE (lastName, firstName, fieldMode));
CREATE TABLE itemCreators (itemID INT NOT NULL, creatorID INT NOT NULL, creatorTypeID INT NOT NULL DEFAULT 1,
    orderIndex INT NOT NULL DEFAULT 0, PRIMARY KEY (itemID, creatorID, creatorTypeID, orderIndex),
    UNIQUE (itemID, orderIndex), FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE,
    FOREIGN KEY (creatorID) REFERENCES creators(creatorID) ON DELETE CASCADE,
    FOREIGN KEY (creatorTypeID) REFERENCES creatorTypes(creatorTypeID));
CREATE TABLE collections (collectionID INTEGER PRIMARY KEY, collectionName TEXT NOT NULL,
    parentCollectionID INT DEFAULT NULL, clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    libraryID INT NOT NULL, key TEXT NOT NULL, version INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0,
    UNIQUE (libraryID, key), FOREIGN KEY (libraryID) REFERENCES libraries(libraryID) ON DELETE CASCADE,
    FOREIGN KEY (parentCollectionID) REFERENCES collections(collectionID) ON DELETE CASCADE);
CREATE TABLE collectionItems (collectionID INT NOT NULL, itemID INT NOT NULL, orderIndex INT NOT NULL DEFAULT 0,
    PRIMARY KEY (collectionID, itemID),
    FOREIGN KEY (collectionID) REFERENCES collections(collectionID) ON DELETE CASCADE,
    FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE);
CREATE TABLE tags (tagID INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE itemTags (itemID INT NOT NULL, tagID INT NOT NULL, type INT NOT NULL, PRIMARY KEY (itemID, tagID),
    FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE,
    FOREIGN KEY (tagID) REFERENCES tags(tagID) ON DELETE CASCADE);
CREATE TABLE deletedItems (itemID INTEGER PRIMARY KEY, dateDeleted DEFAULT CURRENT_TIMESTAMP NOT NULL,
    FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE);
"""
# A few of Zotero's item types, fields and creator types, with its ids.
ITEM_TYPES = {"annotation": 1, "attachment": 3, "book": 7, "conferencePaper": 11, "journalArticle": 22,
              "note": 28, "preprint": 31, "webpage": 40}
FIELDS = {"title": 1, "abstractNote": 2, "date": 6, "language": 7, "url": 13, "extra": 16, "publicationTitle": 38,
          "DOI": 59, "archiveID": 120}
CREATOR_TYPES = {"author": 8, "contributor": 2, "editor": 10}


@dataclass
class ZoteroItem:
    key: str
    item_type: str
    fields: dict[str, str]
    creators: list[tuple[str, str, str]] = field(default_factory=list)  # (creatorType, firstName, lastName)
    collections: list[str] = field(default_factory=list)  # collection keys
    tags: list[str] = field(default_factory=list)
    deleted: bool = False


def build_zotero_sqlite(path: Path, items: list[ZoteroItem],
                        collections: dict[str, tuple[str, str | None]]) -> Path:
    """A zotero.sqlite with `items`; `collections` maps key -> (name, parent key or None)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript(ZOTERO_SCHEMA)
    db.execute("INSERT INTO libraries VALUES (1, 'user', 1, 1, 0, 0, 0, 0)")
    db.executemany("INSERT INTO itemTypes (itemTypeID, typeName) VALUES (?, ?)",
                   [(i, n) for n, i in ITEM_TYPES.items()])
    db.executemany("INSERT INTO fields (fieldID, fieldName) VALUES (?, ?)", [(i, n) for n, i in FIELDS.items()])
    db.executemany("INSERT INTO creatorTypes VALUES (?, ?)", [(i, n) for n, i in CREATOR_TYPES.items()])
    collection_ids = {key: number for number, key in enumerate(collections, 1)}
    for key, (name, parent) in collections.items():
        db.execute("INSERT INTO collections (collectionID, collectionName, parentCollectionID, libraryID, key) "
                   "VALUES (?, ?, ?, 1, ?)", (collection_ids[key], name, collection_ids.get(parent or ""), key))
    values: dict[str, int] = {}
    creators: dict[tuple[str, str], int] = {}
    tags: dict[str, int] = {}
    for item_id, item in enumerate(items, 1):
        db.execute("INSERT INTO items (itemID, itemTypeID, libraryID, key) VALUES (?, ?, 1, ?)",
                   (item_id, ITEM_TYPES[item.item_type], item.key))
        for name, value in item.fields.items():
            if value not in values:
                values[value] = len(values) + 1
                db.execute("INSERT INTO itemDataValues VALUES (?, ?)", (values[value], value))
            db.execute("INSERT INTO itemData VALUES (?, ?, ?)", (item_id, FIELDS[name], values[value]))
        for order, (creator_type, first, last) in enumerate(item.creators):
            if (first, last) not in creators:
                creators[(first, last)] = len(creators) + 1
                db.execute("INSERT INTO creators VALUES (?, ?, ?, ?)",
                           (creators[(first, last)], first, last, 1 if not first else 0))
            db.execute("INSERT INTO itemCreators VALUES (?, ?, ?, ?)",
                       (item_id, creators[(first, last)], CREATOR_TYPES[creator_type], order))
        for collection in item.collections:
            db.execute("INSERT INTO collectionItems (collectionID, itemID) VALUES (?, ?)",
                       (collection_ids[collection], item_id))
        for tag in item.tags:
            if tag not in tags:
                tags[tag] = len(tags) + 1
                db.execute("INSERT INTO tags VALUES (?, ?)", (tags[tag], tag))
            db.execute("INSERT INTO itemTags VALUES (?, ?, 0)", (item_id, tags[tag]))
        if item.deleted:
            db.execute("INSERT INTO deletedItems (itemID) VALUES (?)", (item_id,))
    db.commit()
    db.close()
    return path


def write_paper_pdf(path: Path, title: str, authors: list[str], abstract: str, *, metadata_title: bool = True,
                    arxiv_stamp: str | None = None, abstract_heading: str = "Abstract") -> Path:
    """A one-page paper; `metadata_title=False` leaves the title to be found on the page."""
    from fpdf import FPDF

    pdf = FPDF()
    if metadata_title:
        pdf.set_title(title)
    pdf.set_author(", ".join(authors))
    pdf.set_creator("LaTeX with hyperref")
    pdf.add_page()
    if arxiv_stamp:
        with pdf.rotation(90, x=12, y=200):
            pdf.set_font("Times", "", 18)
            pdf.text(12, 200, arxiv_stamp)
    pdf.set_font("Times", "B", 17)
    pdf.multi_cell(0, 8, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Times", "", 11)
    pdf.multi_cell(0, 6, ", ".join(authors) + "\nExample University", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Times", "B", 11)
    pdf.cell(0, 8, abstract_heading, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Times", "", 10)
    pdf.multi_cell(0, 5, abstract, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Times", "B", 12)
    pdf.cell(0, 8, "1 Introduction", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Times", "", 10)
    pdf.multi_cell(0, 5, "Models keep growing, and so does the memory their training needs. " * 6,
                   new_x="LMARGIN", new_y="NEXT")
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path
