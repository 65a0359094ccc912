"""Settings: defaults, PAPERCHAT_* environment, TOML file, explicit overrides, and clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.settings import BUNDLED_CORPUS, Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _cwd_without_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run each test in an empty directory, so no ./paperchat.toml is picked up by accident."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    settings = load_settings()
    assert settings.data_dir == Path(".paperchat")
    assert settings.corpus == [BUNDLED_CORPUS] and BUNDLED_CORPUS.is_dir()
    assert settings.chunk_max_words == 90 and settings.generator == "extractive"
    assert settings.chroma_host is None
    assert settings.catalog_path == Path(".paperchat/catalog.sqlite")
    assert settings.chroma_dir == Path(".paperchat/chroma") and settings.keyword_dir == Path(".paperchat/keyword")


def test_tmp_settings_fixture(tmp_settings: Settings, tmp_path: Path) -> None:
    assert tmp_settings.data_dir == tmp_path / "data"
    assert len(tmp_settings.corpus) == 1 and tmp_settings.corpus[0].name == "small_papers.jsonl"


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAPERCHAT_CHUNK_MAX_WORDS", "50")
    monkeypatch.setenv("PAPERCHAT_DATA_DIR", "~/pc-data")
    monkeypatch.setenv("PAPERCHAT_CHROMA_HOST", "localhost")
    monkeypatch.setenv("PAPERCHAT_CHROMA_PORT", "8123")
    monkeypatch.setenv("PAPERCHAT_DEVICE", "cpu")
    settings = load_settings()
    assert settings.chunk_max_words == 50
    assert settings.data_dir == Path.home() / "pc-data"
    assert (settings.chroma_host, settings.chroma_port, settings.device) == ("localhost", 8123, "cpu")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("papers", ["papers"]),
        ("a.jsonl:more/b.csv", ["a.jsonl", "more/b.csv"]),
        ('["x y.jsonl", "z"]', ["x y.jsonl", "z"]),
    ],
)
def test_corpus_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]) -> None:
    monkeypatch.setenv("PAPERCHAT_CORPUS", value)
    assert load_settings().corpus == [Path(p) for p in expected]


def test_corpus_paths_expand_the_home_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERCHAT_CORPUS", "~/papers")
    assert load_settings().corpus == [Path.home() / "papers"]


def test_toml_file_with_and_without_a_section(tmp_path: Path) -> None:
    sectioned = write_toml(tmp_path / "a.toml", '[paperchat]\nchunk_max_words = 40\ncorpus = ["one", "two"]\n')
    settings = load_settings(sectioned)
    assert settings.chunk_max_words == 40 and settings.corpus == [Path("one"), Path("two")]
    flat = write_toml(tmp_path / "b.toml", 'papers_top_k = 3\ncorpus = "single"\n')
    settings = load_settings(flat)
    assert settings.papers_top_k == 3 and settings.corpus == [Path("single")]


def test_config_file_from_env_and_from_the_working_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                             _cwd_without_config: Path) -> None:
    write_toml(_cwd_without_config / "paperchat.toml", "history_turns = 2\n")
    assert load_settings().history_turns == 2
    elsewhere = write_toml(tmp_path / "elsewhere.toml", "history_turns = 4\n")
    monkeypatch.setenv("PAPERCHAT_CONFIG", str(elsewhere))
    assert load_settings().history_turns == 4  # PAPERCHAT_CONFIG wins over ./paperchat.toml


def test_precedence_overrides_then_env_then_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = write_toml(tmp_path / "c.toml", "chunk_max_words = 40\npapers_top_k = 3\nlookup_sentences = 2\n")
    monkeypatch.setenv("PAPERCHAT_CHUNK_MAX_WORDS", "60")
    monkeypatch.setenv("PAPERCHAT_PAPERS_TOP_K", "5")
    settings = load_settings(config, chunk_max_words=70, history_turns=None)
    assert settings.chunk_max_words == 70  # override beats env and file
    assert settings.papers_top_k == 5  # env beats file
    assert settings.lookup_sentences == 2  # file beats default
    assert settings.history_turns == 6  # a None override means "not given"


@pytest.mark.parametrize(
    ("kwargs", "env", "field"),
    [
        ({"chunk_max_words": 5}, {}, "chunk_max_words"),
        ({"chunk_max_words": 500}, {}, "chunk_max_words"),
        ({}, {"PAPERCHAT_PAPERS_TOP_K": "many"}, "papers_top_k"),
        ({}, {"PAPERCHAT_DEVICE": "tpu"}, "device"),
        ({"generator": "gpt"}, {}, "generator"),
        ({"max_abstract_chars": 0}, {}, "max_abstract_chars"),
        ({}, {"PAPERCHAT_CORPUS": "[not json"}, "corpus"),
    ],
)
def test_invalid_values_name_the_field(monkeypatch: pytest.MonkeyPatch, kwargs: dict, env: dict, field: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(**kwargs)
    assert str(caught.value).startswith("invalid settings: ")
    assert f"{field}:" in str(caught.value)


def test_unknown_key_in_the_config_file_is_an_error(tmp_path: Path) -> None:
    config = write_toml(tmp_path / "typo.toml", "chunk_max_wrods = 40\n")
    with pytest.raises(SettingsError, match="chunk_max_wrods"):
        load_settings(config)


def test_bad_config_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = write_toml(tmp_path / "broken.toml", "chunk_max_words = = 4\n")
    with pytest.raises(SettingsError, match=re.escape(f"config file {broken}")):
        load_settings(broken)
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")
    monkeypatch.setenv("PAPERCHAT_CONFIG", str(tmp_path / "missing-too.toml"))
    with pytest.raises(SettingsError, match=r"missing-too\.toml does not exist"):
        load_settings()
