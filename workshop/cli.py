"""Flask commands: staff users and demo data (`flask --app workshop --help`)."""

from __future__ import annotations

import random

import click
from flask import Flask, current_app
from sqlalchemy import select

from .domain import proposals, voting, workshops
from .domain.errors import DomainError
from .domain.participants import join
from .domain.users import create_user
from .extensions import db
from .models import Role, User, Workshop

DEMO_FACILITATOR = ("facilitator@samskab.dk", "samskab-demo")
DEMO_REVIEWER = ("politiker@samskab.dk", "samskab-demo")
DEMO_TITLE = "Demo: Samarbejde med civilsamfundet"

# (name, organisation, organisation type)
DEMO_PARTICIPANTS = [
    ("Karen", "Ældre Sagen Viborg", "association"),
    ("Henrik", "Ældre Sagen Viborg", "association"),
    ("Birthe", "ældre sagen  viborg", "association"),
    ("Ole", "Ældre Sagen Viborg", "association"),
    ("Camilla", "Frivilligcenter Silkeborg", "volunteer_centre"),
    ("Mette", "Kræftens Bekæmpelse", "patient_organisation"),
    ("Jens", "Kræftens Bekæmpelse", "patient_organisation"),
    ("Aisha", None, "citizen"),
    ("Lars", None, "citizen"),
    ("Sofie", "Dansk Røde Kors", "association"),
    ("Peter", "Region Midtjylland", "regional_staff"),
    ("Hanne", "Lev", "interest_organisation"),
]

# (element key, title, body)
DEMO_PROPOSALS = [
    ("openness", "Fast kontaktperson for foreninger",
     "Regionen udpeger én indgang, som foreninger kan kontakte om samarbejde."),
    ("equal-treatment", "Åbne kriterier for samarbejdsaftaler",
     "Når regionen indgår en aftale med én forening, offentliggøres kriterierne, så andre kan "
     "søge på samme vilkår."),
    ("transparency", "Offentlig oversigt over samarbejder",
     "En side, der viser alle regionens samarbejder med civilsamfundet, og hvordan de opstod."),
    ("consultation", "Høringsliste man selv kan melde sig på",
     "Alle foreninger kan tilmelde sig regionens høringer inden for deres område."),
    ("partnerships", "Partnerskaber med både store og små organisationer",
     "Systematiske partnerskaber må ikke kun være for de landsdækkende organisationer."),
    ("frames", "Frivilligkoordinator på hvert hospital",
     "En koordinator sikrer klare rammer mellem personale og frivillige."),
    ("digital-entry", "Én digital indgang til frivillige opgaver",
     "En hjemmeside, hvor man kan se og melde sig på frivillige indsatser i regionen."),
    ("networks", "Årligt netværksmøde for foreninger og frivilligcentre",
     "Et fast møde, hvor erfaringer deles på tværs af hospitaler, kommuner og foreninger."),
    ("bridging", "Henvisning fra læge til fællesskaber",
     "Praktiserende læger kan henvise til lokale fællesskaber, som i Sundhed gennem fællesskab."),
]


def register_cli(app: Flask) -> None:
    register_retention_cli(app)

    @app.cli.group()
    def users():
        """Manage staff users."""

    @users.command("create")
    @click.argument("email")
    @click.option("--password", required=True, help="At least 8 characters.")
    @click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
    @click.option("--name", default="", help="The name shown to colleagues.")
    def users_create(email: str, password: str, role: str, name: str):
        """Create a staff user (facilitator, reviewer or admin)."""
        try:
            user = create_user(email, password, role, name)
        except DomainError as error:
            raise click.ClickException(error.message) from None
        click.echo(f"Created {user.role} {user.email}")

    @app.cli.command("demo")
    @click.option("--if-empty", is_flag=True, help="Do nothing when a demo workshop exists.")
    def demo(if_empty: bool):
        """Seed a facilitator, a reviewer and a demo workshop with proposals and votes."""
        existing = db.session.scalar(select(Workshop).where(Workshop.title == DEMO_TITLE))
        if existing is not None and if_empty:
            _print_demo(existing)
            return
        workshop = seed_demo()
        _print_demo(workshop)


def register_retention_cli(app: Flask) -> None:
    @app.cli.command("retention")
    @click.option("--dry-run", is_flag=True, help="Only show what would be anonymised.")
    def retention(dry_run: bool):
        """Anonymise participants of workshops closed more than their retention days ago."""
        from .domain.privacy import apply_retention
        from .models import utcnow

        report = apply_retention(utcnow(), current_app.config["SECRET_KEY"], dry_run=dry_run)
        verb = "Would anonymise" if dry_run else "Anonymised"
        for code, count in report.workshops.items():
            click.echo(f"{verb} {count} participant(s) in workshop {code}")
        click.echo(f"{verb} {report.participants} participant(s) in "
                   f"{len(report.workshops)} workshop(s).")


def _user(email: str, password: str, role: str, name: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email))
    return user or create_user(email, password, role, name)


def seed_demo(seed: int = 7) -> Workshop:
    """A workshop from the default template in the voting phase, with proposals and votes."""
    rng = random.Random(seed)
    facilitator = _user(*DEMO_FACILITATOR, "facilitator", "Demo Facilitator")
    _user(*DEMO_REVIEWER, "reviewer", "Demo Politiker")
    workshop = workshops.create_workshop(facilitator, DEMO_TITLE, None, "generic-model", None)
    workshops.set_phase(workshop, facilitator, "ideation")
    people = [join(workshop, name, org, kind, True).participant
              for name, org, kind in DEMO_PARTICIPANTS]
    elements = {e.key: e.id for e in workshop.elements}
    made = []
    for index, (key, title, body) in enumerate(DEMO_PROPOSALS):
        author = people[index % len(people)]
        proposal, _ = proposals.submit_proposal(workshop, author, title, body, elements[key])
        made.append(proposal)
    proposals.add_comment(workshop, made[0].id, "Godt forslag – gerne med telefontid.",
                          participant=people[7])
    workshops.set_phase(workshop, facilitator, "voting")
    for person in people:
        budget = workshop.dots_per_participant
        for proposal in rng.sample(made, k=len(made)):
            if budget == 0:
                break
            dots = rng.randint(0, min(budget, workshop.max_dots_per_proposal))
            if dots:
                voting.set_dots(workshop, person, proposal.id, dots)
                budget -= dots
    return workshop


def _print_demo(workshop: Workshop) -> None:
    base = current_app.config["PUBLIC_URL"]
    click.echo("")
    click.echo("Samskab demo")
    click.echo(f"  Facilitator login: {base}/login  {DEMO_FACILITATOR[0]} / {DEMO_FACILITATOR[1]}")
    click.echo(f"  Reviewer login:    {base}/login  {DEMO_REVIEWER[0]} / {DEMO_REVIEWER[1]}")
    click.echo(f"  Join link:         {base}/j/{workshop.code}   (code {workshop.code})")
    click.echo("")
