"""Workshop templates: the elements a workshop starts with.

The default template is the region's "Generisk model for samarbejde med civilsamfundet", derived
from the meeting papers in shared/seeds/ (Region Midtjylland 2015-2021, Region Sjælland 2023).
Each element names the seed it comes from, so a reader can trace it back.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class ElementTemplate:
    key: str
    title: str
    description: str
    source: str


@dataclass(frozen=True)
class WorkshopTemplate:
    key: str
    name: object  # a lazy, translatable string
    description: str
    elements: tuple[ElementTemplate, ...]


SEED_AGENDA_2021 = (
    "Dagsorden, midlertidigt udvalg vedr. samarbejde med civilsamfundet, "
    "21.04.2021, punkt 4 (seed 000)"
)
SEED_THEME_DAY_2021 = (
    "Regionsrådets temadag om samarbejde med civilsamfundet, 06.09.2021 (seed 001)"
)
SEED_SJAELLAND_2023 = (
    "Referat, Inddragelsesudvalget (Region Sjælland), 11.04.2023, punkt 2 (seed 002)"
)
SEED_PSU_DRAFT = (
    "Udkast: Input fra psykiatri- og socialudvalget om en generisk model for "
    "samarbejde med civilsamfundet (seed 003)"
)
SEED_STRATEGY_2015 = "Strategi for udbygning af frivillighedsindsatsen, oplæg 16.01.2015 (seed 004)"

GENERIC_MODEL = WorkshopTemplate(
    key="generic-model",
    name=_l("Generisk model for samarbejde med civilsamfundet"),
    description=(
        "Hvordan skal regionen samarbejde med civilsamfundet? Kom med forslag til hvert element "
        "i modellen, drøft dem, og prioritér dem med dine prikker."
    ),
    elements=(
        ElementTemplate(
            "openness",
            "Åbenhed og ligeværdighed",
            "Regionen møder civilsamfundsaktører, der ønsker og har ressourcer til at engagere "
            "sig, åbent, imødekommende og på lige fod.",
            f"{SEED_AGENDA_2021}; {SEED_THEME_DAY_2021}",
        ),
        ElementTemplate(
            "equal-treatment",
            "Lige behandling af foreninger",
            "Foreningerne i civilsamfundet behandles lige og oplever ikke at blive forfordelt, "
            "heller ikke når regionen samarbejder med én organisation og ikke med en anden.",
            SEED_PSU_DRAFT,
        ),
        ElementTemplate(
            "transparency",
            "Gennemsigtighed",
            "Det er synligt og gennemskueligt for organisationerne, hvordan regionen ønsker at "
            "samarbejde med og inddrage civilsamfundet, og hvordan et samarbejde etableres.",
            SEED_PSU_DRAFT,
        ),
        ElementTemplate(
            "consultation",
            "Høringsparter: hvem bliver hørt",
            "Principper for, hvem fra civilsamfundet regionen bruger som høringsparter, og et "
            "åbenhedsprincip for høringer.",
            f"{SEED_PSU_DRAFT}; {SEED_AGENDA_2021}",
        ),
        ElementTemplate(
            "partnerships",
            "Partnerskaber og aftaler med udvalgte aktører",
            "Systematiske samarbejder i faste strukturer som partnerskaber, med store "
            "landsdækkende og små lokale organisationer, og hvornår det er i orden at lave "
            "aftaler med udvalgte aktører uden at alle tilbydes en aftale.",
            f"{SEED_AGENDA_2021}; {SEED_SJAELLAND_2023}",
        ),
        ElementTemplate(
            "frames",
            "Klare rammer og ansvarsfordeling",
            "Den frivillige indsats organiseres med klare rammer, tydelig ansvarsfordeling og "
            "et formål, som ledelsen kommunikerer klart til medarbejderne. Frivillige er "
            "frivillige og ikke billig arbejdskraft.",
            f"{SEED_AGENDA_2021}; {SEED_SJAELLAND_2023}; {SEED_STRATEGY_2015}",
        ),
        ElementTemplate(
            "digital-entry",
            "En digital indgang for frivillige",
            "Det skal være attraktivt at være frivillig og nemt at få overblik over "
            "mulighederne, fx med en digital indgang, hvor man kan melde sig på en indsats.",
            f"{SEED_SJAELLAND_2023}; {SEED_AGENDA_2021}",
        ),
        ElementTemplate(
            "networks",
            "Netværk og erfaringsudveksling",
            "Netværksdannelse, erfaringsudveksling og spredning af gode løsninger på tværs af "
            "arbejdspladser, frivilligcentre, kommuner og organisationer.",
            f"{SEED_AGENDA_2021}; {SEED_STRATEGY_2015}",
        ),
        ElementTemplate(
            "bridging",
            "Brobygning til fællesskaber",
            "Regionen samarbejder med civilsamfundet og lokale frivilligcentre om at gøre borgere "
            "og patienter opmærksomme på relevante tilbud, netværk og fællesskaber.",
            f"{SEED_AGENDA_2021}; {SEED_THEME_DAY_2021}",
        ),
    ),
)

BLANK = WorkshopTemplate(key="blank", name=_l("Tom workshop"), description="", elements=())

TEMPLATES: dict[str, WorkshopTemplate] = {t.key: t for t in (GENERIC_MODEL, BLANK)}
DEFAULT_TEMPLATE = GENERIC_MODEL.key
