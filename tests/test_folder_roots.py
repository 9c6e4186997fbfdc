"""Which folders a folder system may delete in (issue 14, item 6): checked roots and the adoption marker.

The decoys: an invoice in the working directory, which `HYGIENE_CALMO_INVOICES=.` deleted on the old code,
and a policy naming `root: /`, which `policies check` passed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hygiene.locations import policies_dir
from hygiene.policies import check_directory, load_policy
from hygiene.roots import CHECKOUT, MARKER, UnsafeRoot, check_root, marker_text
from integrations.registry import connector_for
from tests.cli_runner import run_cli

CALMO = load_policy(policies_dir(), "calmo")


def adopted(folder: Path, system: str = "invoices", controller: str = "calmo") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(marker_text(controller, system))
    return folder


@pytest.mark.parametrize(
    "root",
    [
        *(".", "fakturaer", "/", str(Path.home()), str(CHECKOUT), str(CHECKOUT.parent), str(CHECKOUT / "policies")),
        *("/etc", "/usr/share/doc", "/var", "/tmp"),
    ],
)
def test_a_dangerous_root_is_refused_naming_the_setting(root: str) -> None:
    with pytest.raises(UnsafeRoot) as refused:
        check_root(root, controller="calmo", system="invoices", setting="HYGIENE_CALMO_INVOICES")
    assert str(refused.value).startswith("calmo: system invoices: HYGIENE_CALMO_INVOICES: ")
    assert "\n" not in str(refused.value)


def test_the_working_directory_and_its_parents_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    adopted(tmp_path / "work" / "deep")
    adopted(tmp_path / "work")
    monkeypatch.chdir(tmp_path / "work" / "deep")
    for root in (tmp_path / "work" / "deep", tmp_path / "work"):
        with pytest.raises(UnsafeRoot, match="working directory"):
            check_root(str(root), controller="calmo", system="invoices", setting="S")


def test_a_folder_without_the_marker_is_refused_with_the_command_that_adopts_it(tmp_path: Path) -> None:
    with pytest.raises(UnsafeRoot, match=f"hygiene folder adopt --controller calmo --system invoices {tmp_path}"):
        check_root(str(tmp_path), controller="calmo", system="invoices", setting="S")


def test_a_marker_for_another_system_or_a_linked_marker_does_not_count(tmp_path: Path) -> None:
    logbooks = adopted(tmp_path / "logbooks", system="logbooks")
    with pytest.raises(UnsafeRoot, match=r"managed for calmo/logbooks \(its .hygiene-root\), not calmo/invoices"):
        check_root(str(logbooks), controller="calmo", system="invoices", setting="S")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / MARKER).symlink_to(adopted(tmp_path / "invoices") / MARKER)
    with pytest.raises(UnsafeRoot, match=r"no \.hygiene-root marker"):
        check_root(str(linked), controller="calmo", system="invoices", setting="S")


def test_an_adopted_folder_is_accepted(tmp_path: Path) -> None:
    root = adopted(tmp_path / "fakturaer")
    assert check_root(str(root), controller="calmo", system="invoices", setting="S") == root


def test_a_run_with_the_working_directory_as_root_is_refused_and_the_invoice_survives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoice = tmp_path / "2015-03-31_faktura_1001.pdf"
    invoice.write_bytes(b"%PDF decoy")
    adopted(tmp_path)  # even a marker does not make the working directory a root
    monkeypatch.chdir(tmp_path)
    for value in (".", str(tmp_path)):
        monkeypatch.setenv("HYGIENE_CALMO_INVOICES", value)
        with pytest.raises(UnsafeRoot, match="HYGIENE_CALMO_INVOICES"):
            connector_for(CALMO, "invoices")
    assert invoice.exists()


def test_policies_check_refuses_a_root_named_in_the_policy(tmp_path: Path) -> None:
    directory = tmp_path / "policies"
    directory.mkdir()
    for name in ("calmo.yaml", "calmo.notice.txt"):
        shutil.copy(policies_dir() / name, directory / name)
    text = (directory / "calmo.yaml").read_text(encoding="utf-8")
    (directory / "calmo.yaml").write_text(text.replace("root_env: HYGIENE_CALMO_INVOICES", "root: /"))
    _, problems = check_directory(directory)
    assert [str(p) for p in problems] == [
        f"{directory / 'calmo.yaml'}: systems.invoices.options.root: / is the file system root"
    ]


def test_folder_adopt_writes_the_marker_a_run_then_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "fakturaer"
    root.mkdir()
    adopt = run_cli(capsys, monkeypatch, "folder", "adopt", "--controller", "calmo", "--system", "invoices", str(root))
    assert adopt.code == 0, adopt.err
    monkeypatch.setenv("HYGIENE_CALMO_INVOICES", str(root))
    assert connector_for(CALMO, "invoices").records({}, "invoice_date") is not None
    check_root(str(root), controller="calmo", system="invoices", setting="S")
    refused = run_cli(capsys, monkeypatch, "folder", "adopt", "--controller", "calmo", "--system", "invoices", "/")
    assert refused.code == 1 and refused.err.startswith("error: ") and "file system root" in refused.err
    assert (
        run_cli(capsys, monkeypatch, "folder", "adopt", "--controller", "calmo", "--system", "requests", str(root)).code
        == 1
    )
