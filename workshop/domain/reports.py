"""The printable report of one workshop (PDF, in Danish), and the summaries it shares with the
review page: the fairness explanation and the moderation summary.

Built with ReportLab (pure Python). User text goes into the PDF as escaped text: ReportLab's
paragraph markup never sees a tag from a participant, bidirectional controls are written out
as [U+202E], and long words are split at the column edge.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select

from ..cpu import cpu_bound, one_at_a_time
from ..extensions import db
from ..models import Proposal, ProposalStatus, Workshop
from .answers import STATUS_LABELS, current_answers
from .charts import number, popular_chart, range_chart, to_drawing, uniting_chart
from .charts import visible_controls as _visible
from .lenses import UNSPECIFIED, Fairness, Outcome
from .participants import ORGANISATION_TYPE_LABELS
from .results import ballots, candidates, lenses, voters


def type_label(kind: str) -> str:
    if kind == UNSPECIFIED:
        return _("Ikke oplyst")
    return str(ORGANISATION_TYPE_LABELS.get(kind, kind))


def method_label(method: str) -> str:
    from .voting import METHOD_LABELS

    return str(METHOD_LABELS.get(method, method))


def method_explanation(method: str) -> str:
    if method == "approval":
        return _("Deltagerne sagde ja til så mange forslag, de ville. Et forslags point er "
                 "antallet af ja (vægtet som valgt).")
    if method == "score":
        return _("Deltagerne gav hvert forslag en karakter fra 1 til 5. Forslagene rangeres "
                 "efter et dæmpet gennemsnit (et bayesiansk gennemsnit): (k × m + summen af "
                 "karaktererne) / (k + antal karakterer), hvor m er gennemsnittet af alle "
                 "karakterer i workshoppen og k = 5. Et forslag med få karakterer trækkes mod "
                 "gennemsnittet, så to femtaller ikke slår fyrre firtaller. En karakter på 4 "
                 "eller 5 tæller som støtte.")
    return _("Hver deltager fordelte et antal prikker på de forslag, de fandt vigtigst. Et "
             "forslags point er antallet af prikker (vægtet som valgt).")


def fairness_explanation(fairness: Fairness) -> str:
    """What the fairness figures mean, in plain Danish."""
    parts = []
    share = float(fairness.largest_organisation_share)
    parts.append(_("Den største organisation stod for %(share)s %% af stemmerne.",
                   share=number(100 * share, 0)))
    tau = fairness.kendall_tau
    if tau is None:
        parts.append(_("Der er for få forslag til at sammenligne de to rangeringer."))
    else:
        if tau >= 0.8:
            verdict = _("næsten ens")
        elif tau >= 0.5:
            verdict = _("ligner hinanden, men med forskelle")
        else:
            verdict = _("tydeligt forskellige")
        parts.append(_(
            "Rangeringen efter deltagere og efter organisationer er %(verdict)s (Kendalls tau "
            "= %(tau)s, hvor 1 betyder samme rækkefølge, 0 ingen sammenhæng og -1 omvendt "
            "rækkefølge). Spearmans footrule = %(rule)s, hvor 0 betyder samme rækkefølge og 1 "
            "så forskellige, som to rækkefølger kan være.",
            verdict=verdict, tau=number(tau, 2),
            rule=number(float(fairness.footrule or 0), 2)))
    if share >= 0.3 and (tau is not None and tau < 0.8):
        parts.append(_("Læg mærke til forslag, der ligger højt efter deltagere, men lavere "
                       "efter organisationer: de kan være båret af én stor organisation."))
    return " ".join(parts)


@dataclass(frozen=True)
class ModerationSummary:
    by_status: dict[str, int]  # hidden, merged, withdrawn, pending
    by_reason: list[tuple[str, str, int]]  # (status, reason, count), most common first


def moderation_summary(workshop: Workshop) -> ModerationSummary:
    rows = db.session.execute(
        select(Proposal.status, Proposal.status_reason, func.count())
        .where(Proposal.workshop_id == workshop.id,
               Proposal.status.in_((ProposalStatus.HIDDEN.value, ProposalStatus.MERGED.value,
                                    ProposalStatus.WITHDRAWN.value,
                                    ProposalStatus.PENDING.value)))
        .group_by(Proposal.status, Proposal.status_reason)
    ).all()
    by_status: Counter = Counter()
    reasons: Counter = Counter()
    for status, reason, count in rows:
        by_status[status] += count
        if status in (ProposalStatus.HIDDEN.value, ProposalStatus.MERGED.value):
            reasons[status, (reason or "").strip() or _("(ingen begrundelse)")] += count
    return ModerationSummary(
        by_status=dict(by_status),
        by_reason=[(s, r, c) for (s, r), c in sorted(reasons.items(),
                                                     key=lambda i: (-i[1], i[0]))],
    )


# --- The PDF --------------------------------------------------------------------------------


def _styles():
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet

    base = getSampleStyleSheet()
    styles = {
        "title": ParagraphStyle("t", parent=base["Title"], fontSize=20, leading=24),
        "h1": ParagraphStyle("h1", parent=base["Heading1"], fontSize=15, leading=19),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontSize=12, leading=15),
        "body": ParagraphStyle("b", parent=base["BodyText"], fontSize=9.5, leading=12.5,
                               splitLongWords=1),
        "cell": ParagraphStyle("c", parent=base["BodyText"], fontSize=8, leading=10,
                               splitLongWords=1),
        "small": ParagraphStyle("s", parent=base["BodyText"], fontSize=8, leading=10,
                                textColor="#555555"),
    }
    return styles


def pdf_text(text) -> str:
    """User text for a ReportLab paragraph: escaped markup, bidi controls made visible."""
    from xml.sax.saxutils import escape

    return escape(_visible(str(text if text is not None else "")))


def _table(rows, widths, header_rows: int = 1):
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, colWidths=widths, repeatRows=header_rows)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, header_rows - 1), "Helvetica-Bold"),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, header_rows - 1), (-1, header_rows - 1), 0.6, colors.black),
        ("ROWBACKGROUNDS", (0, header_rows), (-1, -1), [colors.white, colors.HexColor("#f1f4f6")]),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))
    return table


def build_report(workshop: Workshop, *, samples: int | None = None) -> bytes:
    """The workshop's report as PDF bytes."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    s = _styles()
    data = (candidates(workshop), ballots(workshop), voters(workshop))
    kwargs = {"samples": samples} if samples else {}
    by_person: Outcome = lenses(workshop, "participant", data=data, **kwargs)
    del data
    answers = current_answers(workshop)
    moderation = moderation_summary(workshop)
    elements = {e.id: e.title for e in workshop.elements}
    fair = by_person.fairness

    def p(text, style="body"):
        return Paragraph(text, s[style])

    story = [
        p(pdf_text(workshop.title), "title"),
        p(pdf_text(_("Rapport fra workshoppen · kode %(code)s · fase: %(phase)s",
                     code=workshop.code, phase=workshop.phase)), "small"),
        Spacer(1, 4 * mm),
    ]
    if workshop.description:
        story.append(p(pdf_text(workshop.description)))
    if workshop.outcome_note:
        story += [p(pdf_text(_("Opsummering")), "h2"), p(pdf_text(workshop.outcome_note))]

    story += [
        p(pdf_text(_("Metode")), "h1"),
        p(pdf_text(_("Afstemningsform: %(method)s.", method=method_label(by_person.method)))),
        p(pdf_text(method_explanation(by_person.method))),
        p(pdf_text(_(
            "Rangeringen vises efter deltagere (hver stemme tæller én) og efter organisationer "
            "(hver organisation tæller som én stemme: gennemsnittet af dens stemmende "
            "medlemmer; deltagere uden organisation tæller hver for sig)."))),
        p(pdf_text(_(
            "Konsensus er produktet over de organisationstyper, der stemte, af (støtter + 1) / "
            "(stemmende + 2). Tallet er højt, kun når alle typer støtter forslaget."))),
        p(pdf_text(_(
            "Usikkerhed: stemmerne er trukket om %(n)d gange med tilbagelægning (bootstrap, "
            "med fast startværdi, så tallene kan genskabes). Spændet er 5.–95. percentil af "
            "forslagets placeringer. Forslag, hvis spænd overlapper, er statistisk lige.",
            n=by_person.samples))),
        p(pdf_text(_("Deltagelse og retfærdighed")), "h1"),
    ]
    figures = [
        [_("Deltagere"), str(fair.participants)],
        [_("Har stemt"), str(fair.voters)],
        [_("Organisationer"), str(fair.organisations)],
        [_("Organisationer, der stemte"), str(fair.voting_organisations)],
        [_("Andel fra den største organisation"),
         number(100 * float(fair.largest_organisation_share), 1) + " %"],
        [_("Kendalls tau (deltagere mod organisationer)"),
         number(fair.kendall_tau, 2) if fair.kendall_tau is not None else "–"],
        [_("Spearmans footrule (normeret)"),
         number(float(fair.footrule), 2) if fair.footrule is not None else "–"],
    ]
    story += [_table([[p(pdf_text(_("Tal")), "cell"), p(pdf_text(_("Værdi")), "cell")]]
                     + [[p(pdf_text(a), "cell"), p(pdf_text(b), "cell")] for a, b in figures],
                     [110 * mm, 50 * mm]),
              Spacer(1, 3 * mm), p(pdf_text(fairness_explanation(fair)))]
    kinds = sorted(set(fair.participants_by_type) | set(fair.voters_by_type))
    story += [Spacer(1, 3 * mm), _table(
        [[p(pdf_text(h), "cell") for h in (_("Organisationstype"), _("Deltagere"),
                                          _("Har stemt"), _("Organisationer"))]]
        + [[p(pdf_text(type_label(k)), "cell"), str(fair.participants_by_type.get(k, 0)),
            str(fair.voters_by_type.get(k, 0)), str(fair.organisations_by_type.get(k, 0))]
           for k in kinds], [70 * mm, 30 * mm, 30 * mm, 30 * mm])]
    titles = {r.ranked.proposal_id: r.ranked.title for r in by_person.rows}
    if fair.moved:
        story += [p(pdf_text(_("Størst forskel mellem de to rangeringer")), "h2"), _table(
            [[p(pdf_text(h), "cell") for h in (_("Forslag"), _("Plads efter deltagere"),
                                              _("Plads efter organisationer"))]]
            + [[p(pdf_text(titles.get(pid, pid)), "cell"), str(a), str(b)]
               for pid, a, b in fair.moved], [100 * mm, 35 * mm, 35 * mm])]

    story += [PageBreak(), p(pdf_text(_("Rangering")), "h1"),
              to_drawing(popular_chart(by_person, _("Flest point (deltagervægtning)"))),
              Spacer(1, 3 * mm),
              to_drawing(uniting_chart(by_person, _("Størst konsensus på tværs af typer"))),
              Spacer(1, 3 * mm),
              to_drawing(range_chart(by_person, _("Placering med usikkerhed (5.–95. percentil)"))),
              Spacer(1, 3 * mm)]
    header = [_("Plads"), _("Forslag"), _("Element"), _("Point"), _("Støtter"), _("Spænd"),
              _("Org.-plads"), _("Konsensus"), _("Svar")]
    rows = [[p(pdf_text(h), "cell") for h in header]]
    for r in by_person.rows:
        answer = answers.get(r.ranked.proposal_id)
        rows.append([
            f"{r.ranked.rank}{' ≈' if r.range.tied else ''}",
            p(pdf_text(r.ranked.title), "cell"),
            p(pdf_text(elements.get(r.ranked.element_id, "")), "cell"),
            number(float(r.ranked.score)), str(r.ranked.supporters),
            f"{r.range.low}–{r.range.high}", str(r.organisation_rank),
            number(float(r.consensus), 3),
            p(pdf_text(STATUS_LABELS[answer.status] if answer else "–"), "cell"),
        ])
    story += [p(pdf_text(_("≈ betyder statistisk lige med mindst ét andet forslag."))),
              _table(rows, [11 * mm, 50 * mm, 30 * mm, 13 * mm, 13 * mm, 15 * mm, 14 * mm,
                            16 * mm, 22 * mm])]

    if by_person.types:
        top = by_person.rows[:20]
        story += [p(pdf_text(_("Støtte pr. organisationstype (de 20 første)")), "h2"),
                  p(pdf_text(_("Andelen af typens stemmende, der støtter forslaget.")))]
        kinds = by_person.types
        width = 110 * mm / max(1, len(kinds))
        rows = [[p(pdf_text(_("Forslag")), "cell")]
                + [p(pdf_text(type_label(k)), "cell") for k in kinds]]
        for r in top:
            rows.append([p(pdf_text(r.ranked.title), "cell")] + [
                number(100 * float(r.by_type[k].share), 0) + " %" for k in kinds])
        story.append(_table(rows, [60 * mm] + [width] * len(kinds)))

    story += [p(pdf_text(_("Moderation")), "h1")]
    status_names = {"hidden": _("Skjult"), "merged": _("Lagt sammen"),
                    "withdrawn": _("Trukket tilbage"), "pending": _("Venter på godkendelse")}
    story.append(p(pdf_text(", ".join(
        f"{status_names[k]}: {moderation.by_status.get(k, 0)}" for k in status_names))))
    if moderation.by_reason:
        story.append(_table(
            [[p(pdf_text(h), "cell") for h in (_("Handling"), _("Begrundelse"), _("Antal"))]]
            + [[status_names[st], p(pdf_text(reason), "cell"), str(count)]
               for st, reason, count in moderation.by_reason],
            [30 * mm, 110 * mm, 20 * mm]))

    story += [p(pdf_text(_("Svar på forslagene")), "h1")]
    answered = [r for r in by_person.rows if r.ranked.proposal_id in answers]
    if not answered:
        story.append(p(pdf_text(_("Der er endnu ikke svaret på nogen forslag."))))
    for r in answered:
        answer = answers[r.ranked.proposal_id]
        story += [p(pdf_text(f"{r.ranked.rank}. {r.ranked.title}"), "h2"),
                  p(pdf_text(STATUS_LABELS[answer.status]) + ". " + pdf_text(answer.reasoning))]

    buffer = io.BytesIO()
    # Read here: the layout below runs in another thread (cpu.py), without the request's
    # context (its translations) or the database session (the workshop's attributes).
    running_head = _visible(f"Samskab · {workshop.title}")[:90]
    page_label = _("Side %(n)d")  # without n: the translated pattern, filled in per page

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.drawString(18 * mm, 10 * mm, running_head)
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, page_label % {"n": doc.page})
        canvas.restoreState()

    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=16 * mm, bottomMargin=18 * mm,
                            title=_visible(workshop.title), author="Samskab",
                            lang="da", pageCompression=1, invariant=1)
    # The layout is most of the report's time: off the event loop, as the lenses are; one
    # report at a time (reportlab is not thread-safe).
    with one_at_a_time("reportlab"):
        cpu_bound(doc.build, story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
