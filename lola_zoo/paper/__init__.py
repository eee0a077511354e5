"""The LOLA paper's reproduction: its reported numbers as data, and ``reproduce`` made of sections.

A client of the library: sections run :mod:`lola_zoo.experiments.exact` and the training engine
(:mod:`lola_zoo.experiments.engine`); nothing in ``experiments`` imports this package.  Importing
it registers every section, in table order: exact rows (:mod:`.core`), policy-gradient rows
(:mod:`.pg`), the Coin Game (:mod:`.coin`), and three opt-in sections: the tournament
(:mod:`.tournament`), the LOLA family side by side (:mod:`.family`) and N-player dilemmas
(:mod:`.n_player`).
"""

from lola_zoo.paper import pg as _pg  # noqa: F401, I001  (registers "ipd-pg", "imp-pg"; order = table order)
from lola_zoo.paper import coin as _coin  # noqa: F401, I001  (registers the "coin" section)
from lola_zoo.paper import tournament as _tournament  # noqa: F401, I001  (registers "tournament")
from lola_zoo.paper import family as _family  # noqa: F401, I001  (registers "family", opt-in)
from lola_zoo.paper import n_player as _n_player  # noqa: F401, I001  (registers "n-player", opt-in)
from lola_zoo.paper.core import (
    EXTRA_PAPER_NUMBERS,
    PAPER_NUMBERS,
    SECTIONS,
    PaperNumber,
    Section,
    SectionContext,
    SectionResult,
    default_out_dir,
    format_table,
    paper_number,
    register_section,
    reproduce,
    select_sections,
)

__all__ = [
    "EXTRA_PAPER_NUMBERS",
    "PAPER_NUMBERS",
    "SECTIONS",
    "PaperNumber",
    "Section",
    "SectionContext",
    "SectionResult",
    "default_out_dir",
    "format_table",
    "paper_number",
    "register_section",
    "reproduce",
    "select_sections",
]
