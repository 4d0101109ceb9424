"""One kill chain across the boundary: ATT&CK Enterprise tactics for the IT leg, ATT&CK for ICS
tactics for the OT leg, and the SANS ICS kill chain's two stages (1: intrusion into the enterprise,
2: developing and executing the attack on the control system)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..detect import tactics

ENTERPRISE = (
    "reconnaissance", "resource-development", "initial-access", "execution", "persistence",
    "privilege-escalation", "defense-evasion", "credential-access", "discovery", "lateral-movement",
    "collection", "command-and-control", "exfiltration", "impact",
)  # fmt: skip
ICS = (
    "initial-access", "execution", "persistence", "privilege-escalation", "evasion", "discovery",
    "lateral-movement", "collection", "command-and-control", "inhibit-response-function",
    "impair-process-control", "impact",
)  # fmt: skip

# ATT&CK for ICS: technique → its tactics (facts from attack.mitre.org/techniques/ics, v15).
_IA, _EX, _PE, _PR, _EV, _DI = "initial-access", "execution", "persistence", "privilege-escalation", "evasion", "discovery"  # fmt: skip
_LM, _CO, _C2, _IR, _IP, _IM = "lateral-movement", "collection", "command-and-control", "inhibit-response-function", "impair-process-control", "impact"  # fmt: skip
ICS_TECHNIQUES: dict[str, tuple[str, ...]] = {
    "T0800": (_IR,), "T0801": (_CO,), "T0802": (_CO,), "T0803": (_IR,), "T0804": (_IR,),
    "T0805": (_IR,), "T0806": (_IP,), "T0807": (_EX,), "T0809": (_IR,), "T0811": (_CO,),
    "T0812": (_LM,), "T0813": (_IM,), "T0814": (_IR,), "T0815": (_IM,), "T0816": (_IR,),
    "T0817": (_IA,), "T0819": (_IA,), "T0820": (_EV,), "T0821": (_EX,), "T0822": (_IA,),
    "T0823": (_EX,), "T0826": (_IM,), "T0827": (_IM,), "T0828": (_IM,), "T0829": (_IM,),
    "T0830": (_CO,), "T0831": (_IM,), "T0832": (_IM,), "T0834": (_EX,), "T0835": (_IR,),
    "T0836": (_IP,), "T0837": (_IM,), "T0838": (_IR,), "T0839": (_PR, _IP), "T0840": (_DI,),
    "T0842": (_DI,), "T0843": (_LM,), "T0845": (_CO,), "T0846": (_DI,), "T0847": (_IA,),
    "T0848": (_IA,), "T0849": (_EV,), "T0851": (_EV, _IR), "T0852": (_CO,), "T0853": (_EX,),
    "T0855": (_IP,), "T0856": (_EV, _IP), "T0857": (_PR, _IR), "T0858": (_EX, _EV),
    "T0859": (_PR, _LM), "T0860": (_IA,), "T0861": (_CO,), "T0862": (_IA,), "T0863": (_EX,),
    "T0864": (_IA,), "T0865": (_IA,), "T0866": (_IA, _LM), "T0867": (_LM,), "T0868": (_CO,),
    "T0869": (_C2,), "T0871": (_EX,), "T0872": (_EV,), "T0873": (_PR,), "T0874": (_EX, _PE),
    "T0877": (_CO,), "T0878": (_IR,), "T0879": (_IM,), "T0880": (_IM,), "T0881": (_IR,),
    "T0882": (_IM,), "T0883": (_IA,), "T0884": (_C2,), "T0885": (_C2,), "T0886": (_IA, _LM),
    "T0887": (_DI, _CO), "T0888": (_DI,), "T0889": (_PR,), "T0890": (_PE,), "T0891": (_LM, _PR),
    "T0892": (_IR,), "T0893": (_CO,), "T0894": (_EV,), "T0895": (_EX,),
}  # fmt: skip

Leg = Literal["it", "ot"]


@dataclass(frozen=True, slots=True)
class Placement:
    leg: Leg
    tactic: str | None
    sans_stage: int

    @property
    def label(self) -> str:
        return f"{self.leg}:{self.tactic or 'unplaced'}"

    @property
    def order(self) -> int:
        """Position along the one chain: every IT stage comes before every OT stage."""
        chain = ENTERPRISE if self.leg == "it" else ICS
        at = chain.index(self.tactic) if self.tactic in chain else len(chain)
        return at if self.leg == "it" else 100 + at


def place(alert: dict[str, Any]) -> Placement:
    """Where an alert (a stored alert record) sits on the chain. OT leg: it is about an industrial
    protocol message or names an ICS technique; its tactic is the rule's own ICS tactic tag if it
    has one, else the first tactic of its first ICS technique. IT leg: the rule's first tactic."""
    threat = alert.get("threat") or {}
    named = [t.upper() for t in (threat.get("technique") or {}).get("id") or []]
    stated = tactics([f"attack.{t}" for t in (threat.get("tactic") or {}).get("name") or []])
    ics = [t for t in named if t.split(".")[0] in ICS_TECHNIQUES]
    if alert.get("ot") or ics:
        tactic = next((t for t in stated if t in ICS), None)
        if tactic is None and ics:
            tactic = ICS_TECHNIQUES[ics[0].split(".")[0]][0]
        return Placement("ot", tactic, 2)
    return Placement("it", next((t for t in stated if t in ENTERPRISE), None), 1)
