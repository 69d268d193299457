"""The lifecycle table is consistent, complete, and its published diagram cannot drift."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from dispatch.cases import lifecycle as L
from dispatch.diagrams import commands
from dispatch.diagrams import lifecycle as lifecycle_group
from dispatch.enforcement import lifecycle as E
from grid import roles as R
from grid.catalog.limits import STAGES as LIMIT_STAGES

ROOT = Path(__file__).resolve().parents[2]
KNOWN_ROLES = set(R.ROLES) | {L.SYSTEM, L.CITIZEN}
TERMINAL = {s for s, (_, _, terminal) in L.STATES.items() if terminal}


def _targets(verb: L.Verb, source: str) -> set[str]:
    """Where the verb can lead from ``source`` (RESUME: back to a state it was requested from)."""
    out = set()
    for target in (verb.outcomes.values() if verb.outcomes else [verb.target]):
        if target == L.SAME:
            out.add(source)
        elif target == L.RESUME:
            out.update(_resumable(source))
        else:
            out.add(target)
    return out


def _resumable(state: str) -> set[str]:
    """The states from which a verb leading to ``state`` was used (the state to go back to)."""
    return {src for v in L.VERBS.values() if v.target == state for src in v.sources}


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {s: set() for s in L.STATES}
    for verb in L.VERBS.values():
        for source in verb.sources:
            edges[source] |= _targets(verb, source)
    return edges


def _reach(edges, start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@pytest.mark.parametrize("name", sorted(L.VERBS))
def test_verb_refers_to_known_states_and_roles(name):
    verb = L.VERBS[name]
    assert verb.name == name and verb.zh
    assert verb.sources, f"{name} has no source state"
    for source in verb.sources:
        assert source in L.STATES, f"{name}: unknown source {source}"
        assert not L.STATES[source][2], f"{name}: a terminal state ({source}) cannot be acted on"
    assert (verb.target is None) == bool(verb.outcomes), f"{name}: give either a target or outcomes"
    targets = list(verb.outcomes.values()) if verb.outcomes else [verb.target]
    assert targets and all(t is not None for t in targets), f"{name} has no target"
    for target in targets:
        assert target in L.STATES or target in (L.SAME, L.RESUME), f"{name}: unknown target {target}"
    if verb.outcomes:
        assert "outcome" in verb.requires, f"{name} has outcomes but does not require one"
    assert verb.roles and set(verb.roles) <= KNOWN_ROLES, f"{name}: unknown roles {verb.roles}"
    if verb.own_department:
        assert R.DEPARTMENT_HANDLER in verb.roles
    if L.RESUME in targets:
        # going back needs a remembered state: only the request states remember one
        assert set(verb.sources) <= {"return_requested", "void_requested"}, name


def test_states_and_stages_are_consistent():
    assert "reported" in L.STATES and "closed" in L.STATES
    assert set(L.STATE_STAGE) <= set(L.STATES) and L.PAUSED_STATES <= set(L.STATE_STAGE)
    # open = work still to do: not terminal, not closed, and not merged (a merged report follows its master)
    assert set(L.OPEN_STATES) == {s for s in L.STATES if s not in TERMINAL and s not in ("closed", "merged")}
    assert L.OUTCOME_VERBS == {n for n, v in L.VERBS.items() if v.outcomes}
    for state in L.STATES:
        assert {v.name for v in L.verbs_from(state)} == {n for n, v in L.VERBS.items() if state in v.sources}


def test_every_state_is_reachable_from_reported():
    reached = _reach(_graph(), "reported")
    assert set(L.STATES) - reached == set(), f"unreachable: {set(L.STATES) - reached}"


@pytest.mark.parametrize("state", sorted(s for s in L.STATES if s not in TERMINAL))
def test_every_non_terminal_state_can_end(state):
    reached = _reach(_graph(), state)
    assert reached & (TERMINAL | {"closed"}), f"{state} can never reach a terminal or closed state"


def test_every_non_terminal_state_has_a_way_out_other_than_supervision():
    for state in L.STATES:
        if state in TERMINAL:
            continue
        moving = [v.name for v in L.verbs_from(state) if _targets(v, state) - {state}]
        assert moving, f"{state} has no verb that leaves it"


def test_published_diagram_matches_the_table():
    doc = ROOT / "docs" / "lifecycle.md"
    assert doc.exists(), "docs/lifecycle.md is missing: run `wangge lifecycle diagram > docs/lifecycle.md`"
    assert doc.read_text(encoding="utf-8") == L.markdown(), \
        "docs/lifecycle.md is out of date: run `wangge lifecycle diagram > docs/lifecycle.md`"


def test_diagram_mentions_every_state_and_verb():
    md = L.markdown()
    for state, (zh, _, _) in L.STATES.items():
        assert f"{state}: {state} {zh}" in md
    for name, verb in L.VERBS.items():
        assert f"`{name}`" in md and verb.zh in md


def test_cli_prints_the_markdown():
    assert lifecycle_group in commands
    app = Flask(__name__)
    app.cli.add_command(lifecycle_group)
    result = app.test_cli_runner().invoke(args=["lifecycle", "diagram"])
    assert result.exit_code == 0, result.output
    assert result.output == L.markdown()


# --- the enforcement stages: the same structures, checks and generators ------------------

def test_enforcement_table_uses_the_case_structures_and_is_consistent():
    assert E.TABLE.verbs is E.VERBS and all(isinstance(v, L.Verb) for v in E.VERBS.values())
    assert E.STAGES == ("accept", "investigate", "decide", "execute", "close")
    assert [s for s, (_, _, terminal) in E.STATES.items() if terminal] == [E.CLOSED]
    for name, verb in E.VERBS.items():
        assert verb.name == name and verb.zh and verb.sources and not verb.outcomes
        assert set(verb.sources) <= set(E.STAGES), f"{name} acts on a closed case"
        assert verb.target in E.STATES or verb.target == L.SAME, name
        assert set(verb.roles) <= {R.ENFORCEMENT_LEADER, R.ENFORCEMENT_OFFICER}, name
    # each working stage has exactly one way on, to the next stage in order
    order = list(E.STATES)
    for i, stage in enumerate(E.STAGES):
        [verb] = E.advancing(stage)
        assert verb.target == order[i + 1] and E.verb_to(stage, order[i + 1]) is verb
        assert E.RECORD_KIND[verb.name]
    assert E.advancing(E.CLOSED) == []
    # anything else is not in the table
    for stage in E.STATES:
        for to in E.STATES:
            if to != (order[order.index(stage) + 1] if stage in E.STAGES else None):
                assert E.verb_to(stage, to) is None, (stage, to)
    assert set(E.STATE_STAGE) == set(E.STAGES)
    assert set(E.STATE_STAGE.values()) <= set(LIMIT_STAGES)  # each has a time limit key
    assert set(E.STATE_STAGE.values()).isdisjoint(L.STATE_STAGE.values())  # never mixed with case stages


def test_published_enforcement_stages_match_the_table():
    doc = (ROOT / "docs" / "enforcement.md").read_text(encoding="utf-8")
    assert L.BEGIN in doc and L.END in doc, "docs/enforcement.md lost the markers of its generated part"
    assert L.markdown(E.TABLE) in doc and L.embed(doc, E.TABLE) == doc, \
        "docs/enforcement.md is out of date: run `wangge lifecycle diagram --table enforcement --write`"
    for state, (zh, _, _) in E.TABLE.states.items():
        assert f"{state}: {state} {zh}" in doc


def test_embed_replaces_only_the_generated_part():
    stale = f"# Title\n\nprose\n\n{L.BEGIN}\nold table\n{L.END}\n\nmore prose\n"
    fresh = L.embed(stale, E.TABLE)
    assert fresh.startswith("# Title\n\nprose\n\n" + L.BEGIN + "\n") and fresh.endswith(L.END + "\n\nmore prose\n")
    assert "old table" not in fresh and L.markdown(E.TABLE) in fresh
    assert L.embed("no markers", E.TABLE) == "no markers"


def test_cli_prints_the_enforcement_stages():
    from flask import Flask

    from dispatch.diagrams import lifecycle
    app = Flask(__name__)
    app.cli.add_command(lifecycle)
    result = app.test_cli_runner().invoke(args=["lifecycle", "diagram", "--table", "enforcement"])
    assert result.exit_code == 0, result.output
    assert result.output == L.markdown(E.TABLE)
    bad = app.test_cli_runner().invoke(args=["lifecycle", "diagram", "--table", "bogus"])
    assert bad.exit_code != 0
