"""`bot catalogue import SOURCE --into DIR`: the tree it writes and the summary it prints."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest

from bot.__main__ import main
from bot.catalogue.check import check_catalogue
from bot.catalogue.files import Severity, read_catalogue
from bot.catalogue.importers import import_source
from bot.commands.catalogue import run_import

SAMPLES = ("national-sample.jsonl", "provincial-sample.xlsx", "provincial-sample.csv")


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root`, by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def run(source: Path, into: Path, *, replace: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run_import(source, into, out, err, replace=replace)
    return status, out.getvalue(), err.getvalue()


def errors_in(root: Path) -> list[str]:
    _catalogue, problems = check_catalogue(root)
    return [str(p) for p in problems if p.severity is Severity.ERROR]


def test_import_writes_the_tree_and_prints_a_summary(fixtures_dir: Path, tmp_path: Path) -> None:
    into = tmp_path / "catalogue"
    status, out, err = run(fixtures_dir / "import" / "national-sample.jsonl", into)
    assert status == 0
    assert f"Imported 6 procedures from national-sample.jsonl into {into}" in out
    assert "files: 6 new, 0 changed, 0 unchanged, 0 removed" in out
    assert "Skipped: 5" in out
    assert "1 x not valid JSON" in out and "line 3: not valid JSON" in out
    assert "1 x duplicate code" in out and "line 9: duplicate code (2.001234" in out
    assert "Warnings: 2" in out
    assert "line 4: 1.002345: unknown level 'Cấp thôn' ignored" in out
    assert "Original text kept beside the parsed values: coordinating_agency 1, documents 2" in out
    assert "Importing national-sample.jsonl: 11/11 6 procedures" in err  # not a terminal
    assert (into / "ho-tich" / "1.001193.toml").is_file()
    assert sorted(tree(into))[0] == "_import.toml"  # marks the folder as this source's
    assert len(tree(into)) == 6 + 1
    assert errors_in(into) == []


@pytest.mark.parametrize("sample", SAMPLES)
def test_reimport_gives_a_byte_identical_tree(
    sample: str, fixtures_dir: Path, tmp_path: Path
) -> None:
    source = fixtures_dir / "import" / sample
    first, second = tmp_path / "first", tmp_path / "second"
    assert run(source, first)[0] == 0
    written = tree(first)
    status, out, _err = run(source, first)
    assert status == 0
    assert f"0 new, 0 changed, {len(written) - 1} unchanged, 0 removed" in out
    assert tree(first) == written
    assert run(source, second)[0] == 0
    assert tree(second) == written  # same bytes from a fresh folder too
    assert errors_in(first) == []


def test_reimport_removes_files_the_source_no_longer_has(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    into = tmp_path / "catalogue"
    stale = into / "cu" / "9.999999.toml"
    stale.parent.mkdir(parents=True)
    stale.write_text('code = "9.999999"\n', encoding="utf-8")
    status, out, _err = run(fixtures_dir / "import" / "provincial-sample.csv", into, replace=True)
    assert status == 0
    assert "files: 4 new, 0 changed, 0 unchanged, 1 removed" in out
    assert not stale.exists() and not stale.parent.exists()


def test_an_unreadable_source_exits_1_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    status, out, err = run(missing, tmp_path / "catalogue")
    assert status == 1
    assert err.strip() == f"bot catalogue import: {missing}: no such file"
    assert out == ""
    assert not (tmp_path / "catalogue").exists()


def test_a_workbook_without_header_exits_1_with_one_line(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["Số thứ tự", "Nội dung"])
    source = tmp_path / "list.xlsx"
    book.save(source)
    status, _out, err = run(source, tmp_path / "catalogue")
    assert status == 1
    assert err.count("\n") == 1 and "list.xlsx: no header row" in err
    assert "Traceback" not in err


def test_a_source_without_any_procedure_leaves_the_folder_alone(tmp_path: Path) -> None:
    into = tmp_path / "catalogue"
    kept = into / "ho-tich" / "1.001193.toml"
    kept.parent.mkdir(parents=True)
    kept.write_text("# shipped file\n", encoding="utf-8")
    source = tmp_path / "broken.jsonl"
    source.write_text('not json\n{"ma_thu_tuc": "1.001193"}\n', encoding="utf-8")
    status, out, err = run(source, into, replace=True)
    assert status == 1
    assert "no procedure could be imported" in err
    assert "line 1: not valid JSON" in out and "line 2: no code or name" in out
    assert kept.read_text(encoding="utf-8") == "# shipped file\n"


def test_importing_over_another_catalogue_is_refused(fixtures_dir: Path, tmp_path: Path) -> None:
    """`--into procedures/` must not wipe the hand-written catalogue."""
    into = tmp_path / "procedures"
    kept = into / "ho-tich" / "1.001193.toml"
    kept.parent.mkdir(parents=True)
    kept.write_text("# shipped file\n", encoding="utf-8")
    status, out, err = run(fixtures_dir / "import" / "national-sample.jsonl", into)
    assert status == 1 and out == ""
    assert "already holds 1 procedure files not imported from national-sample.jsonl" in err
    assert "--replace" in err
    assert tree(into) == {"ho-tich/1.001193.toml": b"# shipped file\n"}
    # Another source imported there earlier is refused too; the same source is not.
    other = tmp_path / "other"
    assert run(fixtures_dir / "import" / "provincial-sample.csv", other)[0] == 0
    assert run(fixtures_dir / "import" / "national-sample.jsonl", other)[0] == 1
    assert run(fixtures_dir / "import" / "provincial-sample.csv", other)[0] == 0


def test_into_must_be_a_folder(fixtures_dir: Path, tmp_path: Path) -> None:
    into = tmp_path / "file.txt"
    into.write_text("", encoding="utf-8")
    status, _out, err = run(fixtures_dir / "import" / "provincial-sample.csv", into)
    assert status == 1 and "not a folder" in err


def test_the_bot_command_runs_the_import(
    fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    into = tmp_path / "catalogue"
    source = fixtures_dir / "import" / "provincial-sample.xlsx"
    status = main(["catalogue", "import", str(source), "--into", str(into)])
    captured = capsys.readouterr()
    assert status == 0
    assert "Imported 9 procedures from provincial-sample.xlsx" in captured.out
    assert "3 x signature or note row after the data" in captured.out
    assert (into / "chung-thuc" / "2.000908.000.00.00.H37.toml").is_file()


# --- the real exports (../shared) -------------------------------------------------------


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("name", ["dvcqg-7-ministries-2642.jsonl", "langson-province-1842.xlsx"])
def test_shared_file_imports_to_a_clean_identical_tree(
    name: str, shared_dir: Path, tmp_path: Path
) -> None:
    source = shared_dir / "catalogues" / name
    first, second = tmp_path / "first", tmp_path / "second"
    assert run(source, first)[0] == 0
    assert errors_in(first) == []
    assert run(source, second)[0] == 0
    assert tree(first) == tree(second)
    # Every procedure reads back exactly as it was imported.
    imported = import_source(source).procedures
    catalogue, _problems = read_catalogue(first)
    assert len(catalogue) == len(imported)
    assert all(catalogue.get(p.code) == p for p in imported)
