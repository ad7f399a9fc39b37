"""The scoring server's token index: a damaged users file keeps the last good tokens, a repaired one takes over."""

from __future__ import annotations

import logging
import os

from workbench.governance import UserStore
from workbench.serving import TokenIndex


def test_a_damaged_users_file_keeps_the_last_good_tokens_until_it_reads_again(tmp_path, caplog):
    path = tmp_path / "registry_store" / "governance" / "users.json"
    store = UserStore(path)
    store.add("los", ["client"], "a-long-enough-secret")
    token = store.issue_token("los", "scoring")
    index = TokenIndex(store, recheck_seconds=0.0)
    assert index.user(token).name == "los"

    good = path.read_bytes()
    path.write_text('{"users": {"los": ')  # cut off mid-write
    os.utime(path, ns=(1, 1))  # a stamp the index has not seen
    with caplog.at_level(logging.ERROR, logger="workbench.serving._auth"):
        assert index.user(token).name == "los"  # no request fails for the damaged file
    assert str(path) in caplog.text and "keeps the tokens it last read" in caplog.text

    path.write_bytes(good)
    UserStore(path).revoke_tokens("los")  # the repaired file no longer holds the token
    assert index.user(token) is None
