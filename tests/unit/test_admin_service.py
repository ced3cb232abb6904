"""Admin services without HTTP: search, status filters, scoping, CSV helpers, import checks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal import access, csvtext
from portal.bulk import service as bulk
from portal.db import database, is_sqlite
from portal.import_export import service as csvio
from portal.models import User, utcnow
from portal.users import labels
from portal.users import search as service


@pytest.fixture
def folks(ctx, make_user):
    made = {
        "admin": make_user("admin", role="admin"),
        "mgrA": make_user("mgrA", role="manager", team="A"),
        "alice": make_user("alice", team="A", first_name="Alice", last_name="Archer"),
        "bob": make_user("bob", team="B", first_name="Bob", last_name="Baker"),
        "zoë": make_user(
            "zoë", email="zoe@example.test", team="A", first_name="Zoë", last_name="Ångström"
        ),
    }
    database.connect(reuse_if_open=True)  # make_user closed the connection of this thread
    return {k: User.get_by_id(v.id) for k, v in made.items()}


def names(page) -> list[str]:
    return [u.username for u in page.items]


def test_prefix_search_over_keys(folks):
    admin = folks["admin"]
    assert names(service.search_users(admin, "AL")) == ["alice"]
    assert names(service.search_users(admin, "ångs")) == ["zoë"]
    assert names(service.search_users(admin, "bob@EXAMPLE.test")) == ["bob"]
    assert names(service.search_users(admin, str(folks["bob"].id))) == ["bob"]
    assert names(service.search_users(admin, "rcher")) == []
    assert names(service.search_users(admin, "Baker Bob")) == ["bob"]


def test_search_sql_is_a_prefix_test_an_index_can_serve(folks):
    query = service.filtered_query(folks["admin"], service.Search(q="ali_%"))
    sql, params = query.sql()
    assert not any(str(p).startswith("%") for p in params)  # never a LIKE '%q%' scan
    if is_sqlite():
        assert "LIKE" not in sql.upper()
        assert "ali_%" in params and "ali_%\U0010ffff" in params
    else:  # LIKE 'prefix%' with the text_pattern_ops indexes of migration 0003
        assert "ali\\_\\%%" in params


def test_manager_scope(folks):
    page = service.search_users(folks["mgrA"])
    assert names(page) == ["alice", "zoë"] and page.total == 2
    assert names(service.search_users(folks["mgrA"], "bob")) == []
    assert names(service.search_users(folks["mgrA"], role="manager")) == []


def test_prefix_searches_within_a_team_or_a_managers_reach(folks):
    # Two letters or more read the prefix indexes first (team_id + 0 on SQLite), one letter
    # the team's index: the same answers either way.
    mgr, admin, alice, bob = folks["mgrA"], folks["admin"], folks["alice"], folks["bob"]
    assert names(service.search_users(mgr, "ar")) == ["alice"]
    assert names(service.search_users(mgr, "a")) == ["alice"]
    assert names(service.search_users(mgr, "ba")) == []  # bob is in team B
    assert names(service.search_users(admin, "ba", team_id=bob.team_id)) == ["bob"]
    assert names(service.search_users(admin, "b", team_id=bob.team_id)) == ["bob"]
    assert names(service.search_users(admin, "ba", team_id=alice.team_id)) == []
    assert service.search_users(mgr, "ar").total == 1


def test_one_teams_list_in_username_order(folks):
    team_a = folks["alice"].team_id
    assert names(service.search_users(folks["admin"], team_id=team_a)) == ["alice", "mgrA", "zoë"]
    desc = service.search_users(folks["admin"], team_id=team_a, direction="desc")
    assert names(desc) == ["zoë", "mgrA", "alice"]
    assert names(service.search_users(folks["mgrA"], per_page=1, page=2)) == ["zoë"]


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_filtered_pages_in_username_order_whichever_plan(folks, direction):
    # Most accounts active: small pages are read in index order, deep ones sorted; both
    # must give the same order as sorting the matches.
    admin = folks["admin"]
    expected = sorted(
        (u for u in User.select() if u.status == "active"),
        key=lambda u: u.username_key,
        reverse=direction == "desc",
    )
    got = []
    for page in (1, 2, 3):
        got += service.search_users(
            admin, status="active", direction=direction, per_page=2, page=page
        ).items
    assert [u.username for u in got] == [u.username for u in expected]
    assert len(got) == 5


def test_user_scope_is_empty(folks):
    assert service.search_users(folks["alice"]).total == 0


@pytest.mark.parametrize("status", list(labels.STATUS_LABELS))
def test_status_filter_matches_status_property(folks, status):
    now = utcnow()
    User.update(disabled=True).where(User.id == folks["bob"].id).execute()
    User.update(locked_until=now + timedelta(minutes=5)).where(
        User.id == folks["alice"].id
    ).execute()
    User.update(must_change=True).where(User.id == folks["zoë"].id).execute()
    User.update(password_hash=None).where(User.id == folks["mgrA"].id).execute()
    if status == "locked":  # a hard lock; alice's short wait is "waiting"
        User.update(hard_locked=True).where(User.id == folks["bob"].id).execute()
        User.update(disabled=False).where(User.id == folks["bob"].id).execute()
    expected = sorted(u.username for u in User.select() if labels.user_status(u) == status)
    page = service.search_users(folks["admin"], status=status)
    assert sorted(names(page)) == expected and page.total == len(expected)
    assert expected  # each status is represented
    in_team = sorted(
        u.username
        for u in User.select()
        if labels.user_status(u) == status and u.team_id == folks["alice"].team_id
    )
    assert service.search_users(
        folks["admin"], status=status, team_id=folks["alice"].team_id
    ).total == len(in_team)


def test_sort_and_pagination(folks):
    page = service.search_users(
        folks["admin"], sort="username", direction="desc", per_page=2, page=1
    )
    assert names(page) == ["zoë", "mgrA"] and page.pages == 3 and page.total == 5
    last = service.search_users(folks["admin"], per_page=2, page=99)
    assert last.page == 3 and names(last) == ["zoë"]
    by_team = names(service.search_users(folks["admin"], sort="team"))
    assert by_team[-2:] == ["bob", "admin"]  # team B, then no team (empty values last)
    by_team_desc = names(service.search_users(folks["admin"], sort="team", direction="desc"))
    assert by_team_desc[0] == "bob" and by_team_desc[-1] == "admin"


def test_search_args_are_bounded():
    s = service.Search.from_args(
        {
            "q": "x" * 500,
            "role": "root",
            "status": "nope",
            "team": "1e9",
            "sort": "password_hash",
            "dir": "sideways",
            "page": "-3",
        }
    )
    assert len(s.q) == service.MAX_QUERY and s.role is None and s.status is None
    assert s.team_id is None and s.sort == "username" and s.direction == "asc" and s.page == 1
    assert service.Search(q="a", page=2).params() == {"q": "a", "page": 2}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("alice", "alice"),
        ("", ""),
        (None, ""),
        (5, "5"),
    ],
)
def test_safe_cell(value, expected):
    assert csvtext.safe_cell(value) == expected


def test_import_validation_reports_every_line(folks):
    text = (
        "username,email,role\n"
        "new1,new1@example.test,user\n"
        "alice,,user\n"  # exists
        "new1,,user\n"  # duplicate within the file
        "bad name,,user\n"  # space
        "new2,nope,admin\n"
    )  # bad email
    result, _rows = csvio.validate(text)
    lines = sorted({line for line, _c, _m in result.errors})
    assert lines == [3, 4, 5, 6]
    assert csvio.import_users(text).created == []
    assert User.get_or_none(User.username_key == "new1") is None


def test_bulk_ids_parsing():
    assert bulk.parse_ids(["3", "1", "3"]) == [3, 1]
    with pytest.raises(bulk.SelectionError):
        bulk.parse_ids(["1", "two"])


def test_bulk_selection_is_all_or_nothing(folks):
    with pytest.raises(access.Denied):
        bulk.select_users(folks["mgrA"], [folks["alice"].id, folks["bob"].id])
    with pytest.raises(access.Denied):
        bulk.select_users(folks["mgrA"], [folks["alice"].id, 987654])
    assert [u.username for u in bulk.select_users(folks["mgrA"], [folks["alice"].id])] == ["alice"]
