"""The CO@h / COVID virtual ward SpO2 RAG rule (clinical-rules.md §1.2).

Green >=95 %, amber 93-94 %, red <=92 % (S-BJGP21, S-HSJ confirmed; S-PULSEOX, S-PULSE20). The 92-93 %
amber wording in one commentary contradicts every other source and is not used (§1.2 notes).

The sources state the bands in whole percent. Devices may send fractions (PLX SFLOAT values such as
94.5), so each band is defined by its **inclusive lower edge** and a value is compared as measured,
never rounded: green if spo2 >= 95, amber if 93 <= spo2 < 95, red if spo2 < 93. A value between two
whole-number bands therefore lands in the worse one (94.9 amber, 92.9 red): rounding 92.6 up to
"93, amber" would under-call a value the device measured below 93.
"""

from __future__ import annotations

import math

from alerting.model import Band

GREEN_FROM = 95.0  # §1.2 green ">=95%"
AMBER_FROM = 93.0  # §1.2 amber "93-94%"; below this is red "<=92%"


def o2home_band(spo2: float) -> Band:
    """Band of one SpO2 value. Raises ValueError for NaN or a value outside 0-100 %."""
    if math.isnan(spo2) or not 0.0 <= spo2 <= 100.0:
        raise ValueError(f"SpO2 must be 0-100 %, got {spo2!r}")
    if spo2 >= GREEN_FROM:
        return Band.GREEN
    if spo2 >= AMBER_FROM:
        return Band.AMBER
    return Band.RED
