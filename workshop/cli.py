"""Flask commands: staff users and demo data (`flask --app workshop --help`)."""

from __future__ import annotations

import random

import click
from flask import Flask, current_app
from sqlalchemy import select

from .domain import answers, proposals, voting, workshops
from .domain.errors import DomainError
from .domain.participants import join
from .domain.users import create_user
from .extensions import db
from .models import Role, User, Workshop

DEMO_FACILITATOR = ("facilitator@samskab.dk", "samskab-demo")
DEMO_REVIEWER = ("politiker@samskab.dk", "samskab-demo")
DEMO_TITLE = "Demo: Samarbejde med civilsamfundet"
DEMO_FINISHED_TITLE = "Demo (afsluttet): Frivillige i sundhedsvæsenet"

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
        """Seed a facilitator, a reviewer, a live demo workshop (voting) and a finished one
        (results, the politicians' answers, published)."""
        existing = db.session.scalar(select(Workshop).where(Workshop.title == DEMO_TITLE))
        finished = db.session.scalar(
            select(Workshop).where(Workshop.title == DEMO_FINISHED_TITLE))
        if not (if_empty and existing is not None):
            existing = seed_demo()
        if not (if_empty and finished is not None):
            finished = seed_finished_demo()
        _print_demo(existing, finished)


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


def seed_demo(seed: int = 7, title: str = DEMO_TITLE) -> Workshop:
    """A workshop from the default template in the voting phase, with proposals and votes."""
    rng = random.Random(seed)
    facilitator = _user(*DEMO_FACILITATOR, "facilitator", "Demo Facilitator")
    _user(*DEMO_REVIEWER, "reviewer", "Demo Politiker")
    workshop = workshops.create_workshop(facilitator, title, None, "generic-model", None)
    workshops.set_phase(workshop, facilitator, "ideation")
    people = [join(workshop, name, org, kind, True).participant
              for name, org, kind in DEMO_PARTICIPANTS]
    elements = {e.key: e.id for e in workshop.elements}
    made = []
    for index, (key, proposal_title, body) in enumerate(DEMO_PROPOSALS):
        author = people[index % len(people)]
        proposal, _ = proposals.submit_proposal(workshop, author, proposal_title, body,
                                                elements[key])
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


# The politicians' answers in the finished demo, by proposal title.
DEMO_ANSWERS = {
    "Fast kontaktperson for foreninger": (
        "adopted", "Regionen udpeger en fast kontaktperson fra næste år; kontaktoplysningerne "
        "kommer på regionens hjemmeside."),
    "Åbne kriterier for samarbejdsaftaler": (
        "partly_adopted", "Kriterierne offentliggøres for nye aftaler; eksisterende aftaler "
        "gennemgås, når de skal fornys."),
    "Offentlig oversigt over samarbejder": (
        "adopted", "Oversigten bliver en del af den digitale indgang for frivillige."),
    "Frivilligkoordinator på hvert hospital": (
        "not_adopted", "Der er ikke økonomi til en koordinator på hvert hospital i år; i stedet "
        "deler hospitalerne to koordinatorer, og behovet vurderes igen ved næste budget."),
    "Én digital indgang til frivillige opgaver": (
        "under_consideration", ""),
}


def seed_finished_demo(seed: int = 11) -> Workshop:
    """A finished workshop: voted, in the results phase, answered by the demo politician and
    published to the participants, so that every screen of the afterwards can be tried."""
    workshop = seed_demo(seed, DEMO_FINISHED_TITLE)
    facilitator = db.session.scalar(select(User).where(User.email == DEMO_FACILITATOR[0]))
    reviewer = db.session.scalar(select(User).where(User.email == DEMO_REVIEWER[0]))
    workshops.set_phase(workshop, facilitator, "results")
    titles = {p.title: p.id for p in proposals.all_proposals(workshop)}
    for title, (status, reasoning) in DEMO_ANSWERS.items():
        answers.set_answer(workshop, reviewer, titles[title], status, reasoning)
    answers.publish(workshop, facilitator, True,
                    "Tak for jeres forslag. Regionsrådet har behandlet dem; her er svarene.")
    return workshop


def _print_demo(workshop: Workshop, finished: Workshop) -> None:
    base = current_app.config["PUBLIC_URL"]
    click.echo("")
    click.echo("Samskab demo")
    click.echo(f"  Facilitator login: {base}/login  {DEMO_FACILITATOR[0]} / {DEMO_FACILITATOR[1]}")
    click.echo(f"  Reviewer login:    {base}/login  {DEMO_REVIEWER[0]} / {DEMO_REVIEWER[1]}")
    click.echo(f"  Join link:         {base}/j/{workshop.code}   (code {workshop.code})")
    click.echo(f"  Finished workshop: {base}/review/{finished.code}   (answered and published;"
               f" reviewer login)")
    click.echo("")
