"""Study types, strongest evidence first: the order digests and searches sort by."""

STUDY_TYPES: dict[str, str] = {
    "meta_analysis": "Meta-analysis",
    "systematic_review": "Systematic review",
    "rct": "Randomised controlled trial",
    "clinical_trial": "Other clinical trial",
    "observational": "Observational study",
    "case_report": "Case report / series",
    "review": "Narrative review / editorial",
    "preclinical": "Preclinical (animal / in vitro)",
    "other": "Other",
}

EVIDENCE_RANK = {name: rank for rank, name in enumerate(STUDY_TYPES)}


def evidence_rank(study_type: str) -> int:
    """0 for the strongest evidence; unknown types sort last."""
    return EVIDENCE_RANK.get(study_type, len(EVIDENCE_RANK))
