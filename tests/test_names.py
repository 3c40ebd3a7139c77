"""Declared function names: sanitising, shortening, collisions."""

from __future__ import annotations

from agent.tools.names import MAX_NAME, NAME_RE, NameRequest, assign_names, declared_name, sanitize_name


def test_prefix_joins_with_double_underscore_and_empty_prefix_is_bare() -> None:
    assert declared_name("github", "create_issue") == "github__create_issue"
    assert declared_name("", "create_issue") == "create_issue"


def test_sanitize_keeps_allowed_characters_and_fixes_the_rest() -> None:
    assert sanitize_name("list-databases") == "list-databases"
    assert sanitize_name("ns:tool.v2") == "ns:tool.v2"
    assert sanitize_name("get weather/now") == "get_weather_now"
    assert sanitize_name("1password") == "_1password"
    assert sanitize_name("-x") == "_-x"
    assert sanitize_name("") == "_"
    assert sanitize_name("météo") == "m_t_o"
    for raw in ("a" * 200, "é" * 80, "x" * 64, "9" * 65):
        name = sanitize_name(raw)
        assert NAME_RE.match(name) and len(name) <= MAX_NAME


def test_long_names_are_shortened_deterministically_and_distinctly() -> None:
    a, b = "t" * 70 + "_one", "t" * 70 + "_two"
    assert sanitize_name(a) == sanitize_name(a)
    assert sanitize_name(a) != sanitize_name(b)
    assert len(sanitize_name(a)) == MAX_NAME


def test_unique_names_pass_through() -> None:
    names, notes = assign_names([NameRequest("fs", "fs", "read_file"), NameRequest("gh", "gh", "read_file")])
    assert names == ["fs__read_file", "gh__read_file"]
    assert notes == ["", ""]


def test_collision_after_sanitising_is_resolved_deterministically() -> None:
    requests = [NameRequest("db", "", "list databases"), NameRequest("db", "", "list_databases")]
    names, notes = assign_names(requests)
    # the name that needed no sanitising keeps it, whatever the listing order
    assert names[1] == "list_databases" and names[0].startswith("list_databases_") and NAME_RE.match(names[0])
    assert "collision" in notes[0] and notes[1] == ""
    again, _ = assign_names(list(reversed(requests)))
    assert again == list(reversed(names))


def test_empty_prefix_falls_back_to_the_source_name_on_collision() -> None:
    requests = [
        NameRequest("files", "", "read_file"),
        NameRequest("git", "", "status"),
        NameRequest("other", "", "read_file"),
        NameRequest("time", "", "files__read_file"),  # collides with the fallback of the first
    ]
    names, notes = assign_names(requests)
    assert names[1] == "status" and notes[1] == ""
    assert names[2] == "other__read_file" and "no prefix" in notes[2]
    # the fallback then collides with a tool really called so: that one keeps its name
    assert names[3] == "files__read_file" and notes[3] == ""
    assert names[0].startswith("files__read_file_") and "no prefix" in notes[0] and "collision" in notes[0]
    assert len(set(names)) == 4 and all(NAME_RE.match(n) for n in names)


def test_empty_prefix_colliding_with_a_prefixed_name() -> None:
    names, notes = assign_names([NameRequest("a", "a", "x"), NameRequest("b", "", "a__x")])
    assert names == ["a__x", "b__a__x"] and "no prefix" in notes[1]


def test_many_collisions_stay_unique() -> None:
    requests = [NameRequest(f"s{i}", "p", "tool") for i in range(50)]
    names, notes = assign_names(requests)
    assert len(set(names)) == 50 and names[0] == "p__tool"
    assert sum(1 for n in notes if n) == 49
