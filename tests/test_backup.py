"""Backup and restore of a workshop: export to JSON and import back, exactly."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.conftest import test_config as make_config
from tests.factories import (
    PASSWORD,
    facilitator_of,
    hide,
    join_as,
    make_user,
    make_workshop,
    merge,
    move_to,
    propose,
    vote,
)
from workshop import create_app
from workshop.domain import facilitation, proposals
from workshop.domain.backup import export_workshop, import_workshop
from workshop.domain.errors import DomainError
from workshop.domain.workshops import get_workshop
from workshop.extensions import db
from workshop.models import Workshop


def rich_workshop():
    """A workshop with something of everything a backup must carry."""
    workshop = make_workshop(title="Backup <b>&</b> gendan", phase="ideation",
                             dots_per_participant=6, max_dots_per_proposal=3, show_names=False)
    user = facilitator_of(workshop)
    anna = join_as(workshop, "Anna", "Ældre Sagen", "association")
    bo = join_as(workshop, "Bo", " ældre  sagen", "association")
    cecilie = join_as(workshop, "Cecilie ✨", None, "citizen")
    a = propose(workshop, anna, "Fast kontaktperson", "En indgang", 0, client_id="k1")
    b = propose(workshop, bo, "Fast kontakt", "Dublet", 0)
    c = propose(workshop, cecilie, "Digital indgang", "", 2)
    d = propose(workshop, cecilie, "Uden for emnet", "", 3)
    proposals.add_comment(workshop, a.id, "Godt", participant=bo, client_id="c1")
    proposals.add_comment(workshop, a.id, "Tak", user=user)
    move_to(workshop, "voting")
    vote(workshop, anna, b, 2)
    vote(workshop, bo, a, 3)
    vote(workshop, cecilie, c, 1)
    merge(workshop, b, a)
    hide(workshop, d, "Personfølsomt")
    facilitation.control_timer(workshop, user, "start", 300)
    facilitation.set_spotlight(workshop, user, c.id)
    facilitation.set_revealed(workshop, user, True)
    facilitation.remove_participant(workshop, user, cecilie.id, void_votes=False)
    return workshop


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_a_restored_workshop_exports_exactly_as_the_original(app, tmp_path):
    document = export_workshop(rich_workshop())
    text = json.dumps(document, sort_keys=True)
    # Restore into a second, empty database (the same users exist there).
    other = create_app(make_config(f"sqlite:///{tmp_path / 'restore.sqlite3'}"))
    with other.app_context():
        db.create_all()
        for email in document["workshop"]["facilitators"]:
            make_user("facilitator", email)
        restored = import_workshop(json.loads(text))
        again = export_workshop(restored)
        assert json.dumps(again, sort_keys=True) == text
        # And the restored workshop works: its participants' links and its rules.
        assert restored.code == document["workshop"]["code"]
        assert db.session.scalar(select(func.count()).select_from(Workshop)) == 1
        db.session.remove()
        db.engine.dispose()


def test_a_backup_carries_everything(app):
    document = export_workshop(rich_workshop())
    assert len(document["participants"]) == 3
    assert {p["status"] for p in document["proposals"]} == {"visible", "merged", "hidden"}
    assert [p["merged_into"] for p in document["proposals"] if p["status"] == "merged"] == [1]
    assert len(document["comments"]) == 2 and len(document["votes"]) == 3
    assert document["workshop"]["timer_deadline"] and document["workshop"]["spotlight_proposal"]
    assert {e["action"] for e in document["moderation_log"]} >= {"merge", "hide", "timer"}
    assert all(p["token_hash"] for p in document["participants"])


@pytest.mark.parametrize("document", [
    None, [], "text", {"format": "other"}, {"format": "samskab-workshop-backup", "version": 99},
    {"format": "samskab-workshop-backup", "version": 1},
    {"format": "samskab-workshop-backup", "version": 1, "workshop": {"code": "ABCDEF"},
     "proposals": [{"id": 1, "element": 7}]},
    {"format": "samskab-workshop-backup", "version": 1,
     "workshop": {"code": "ABCDEF", "title": {"not": "text"}, "phase": "lobby"}},
])
def test_a_broken_backup_is_refused_and_writes_nothing(app, document):
    with pytest.raises(DomainError) as info:
        import_workshop(document)
    assert info.value.code == "invalid"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Workshop)) == 0


def test_restoring_over_an_existing_workshop_is_refused(app):
    workshop = rich_workshop()
    document = export_workshop(workshop)
    with pytest.raises(DomainError) as info:
        import_workshop(document)
    assert info.value.code == "conflict"


def test_backup_commands_round_trip(app, runner, tmp_path):
    workshop = rich_workshop()
    code = workshop.code
    path = tmp_path / "backup.json"
    result = runner.invoke(args=["backup", "export", code, "--output", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["workshop"]["code"] == code
    # Importing it again over itself is refused with a clear message and a non-zero exit.
    result = runner.invoke(args=["backup", "import", str(path)])
    assert result.exit_code != 0 and "findes allerede" in result.output
    assert runner.invoke(args=["backup", "export", "NOSUCH"]).exit_code != 0
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "Not JSON" in runner.invoke(args=["backup", "import", str(bad)]).output
    assert get_workshop(code).title.startswith("Backup")
    assert PASSWORD
