"""optlab.experiments: the lecture's claims as runnable experiments with computed verdicts.

See :mod:`optlab.experiments.framework` for the contract every experiment module follows,
:mod:`optlab.experiments.registry` for the list in the lecture's order and :mod:`optlab.experiments.runner`
for running them (in parallel processes) into a results folder.
"""

from optlab.experiments.framework import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    PROFILES,
    REPRODUCED,
    SECTIONS,
    Claim,
    ClaimResult,
)

__all__ = ["INCONCLUSIVE", "NOT_REPRODUCED", "PROFILES", "REPRODUCED", "SECTIONS", "Claim", "ClaimResult"]
