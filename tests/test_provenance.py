from __future__ import annotations

import hashlib

from workbench.provenance import directory_sha256, environment_lock, file_sha256, git_state


def test_file_sha256_matches_hashlib(tmp_path):
    path = tmp_path / "x.bin"
    payload = bytes(range(256)) * 9000
    path.write_bytes(payload)
    assert file_sha256(path) == hashlib.sha256(payload).hexdigest()


def test_directory_hash_sees_edits_renames_and_additions(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "model.bin").write_bytes(b"weights")
    (tmp_path / "MLmodel").write_text("flavor")
    base = directory_sha256(tmp_path)
    assert directory_sha256(tmp_path) == base
    (tmp_path / "MLmodel").write_text("flavor!")
    edited = directory_sha256(tmp_path)
    assert edited != base
    (tmp_path / "MLmodel").rename(tmp_path / "MLmodel2")
    assert directory_sha256(tmp_path) not in {base, edited}
    (tmp_path / "extra").write_text("")
    assert directory_sha256(tmp_path) not in {base, edited}


def test_directory_hash_does_not_depend_on_location(tmp_path):
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "f").write_text("same")
    assert directory_sha256(tmp_path / "one") == directory_sha256(tmp_path / "two")


def test_environment_lock_pins_installed_packages():
    lock = environment_lock()
    assert lock.startswith("# python 3.")
    assert any(line.startswith("scikit-learn==") for line in lock.splitlines())


def test_git_state_outside_a_repository(tmp_path):
    assert git_state(tmp_path).sha == "unknown"
