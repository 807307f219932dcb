"""Other names of the same drug or thing (British/international vs US names, lay words), so a
question asked with one name finds articles written with the other. The standalone question
shows what was added: "How much paracetamol (acetaminophen) can I take?"."""

from __future__ import annotations

import re
from functools import cache

from followup.text import term_set

# Each group names one thing; the first name is the one articles most often use.
GROUPS: tuple[tuple[str, ...], ...] = (
    ("acetaminophen", "paracetamol", "APAP"),
    ("epinephrine", "adrenaline"),
    ("norepinephrine", "noradrenaline"),
    ("albuterol", "salbutamol"),
    ("furosemide", "frusemide"),
    ("lidocaine", "lignocaine"),
    ("meperidine", "pethidine"),
    ("rifampin", "rifampicin"),
    ("cyclosporine", "ciclosporin"),
    ("levothyroxine", "thyroxine"),  # not "T4": a lab test, a spinal level
    ("nitroglycerin", "glyceryl trinitrate", "GTN"),
    ("trimethoprim-sulfamethoxazole", "co-trimoxazole", "cotrimoxazole", "TMP-SMX"),
    ("leucovorin", "folinic acid"),
    ("hydroxyurea", "hydroxycarbamide"),
    ("estrogen", "oestrogen"),
    ("N-acetylcysteine", "acetylcysteine", "NAC"),
    ("proton pump inhibitor", "PPI"),
    ("anticoagulant", "blood thinner"),
    ("diuretic", "water pill"),
    # clinicians' shorthand and brand names seen in chat (the articles spell them out)
    ("benzodiazepine", "benzo"),
    ("benzodiazepines", "benzos"),
    ("methotrexate", "MTX"),
    ("ciprofloxacin", "cipro"),
    ("blood pressure", "BP"),
    ("hypertension", "HTN"),
    ("symptoms", "sx"),
    ("urinary tract infection", "UTI"),
    ("trimethoprim-sulfamethoxazole", "Bactrim", "Septra"),
    ("diphenhydramine", "Benadryl"),
    ("acetaminophen", "Tylenol"),
    ("ibuprofen", "Advil", "Motrin"),
    ("naproxen", "Aleve"),
    ("acute kidney injury", "AKI"),
    ("ECG", "EKG"),
    ("discontinue", "d/c"),
    ("pregabalin", "Lyrica"),
    ("gabapentin", "Neurontin"),
    ("ACE inhibitor", "ACEi"),
    ("alcohol", "EtOH"),
    ("delirium tremens", "DTs"),
    # patients' words for what the articles name
    ("alcohol", "vodka", "beer", "beers", "wine", "liquor", "booze"),
    ("electric shock sensations", "zaps"),
    ("liver function tests", "LFTs"),
    ("management", "mgmt"),
    ("treatment", "tx"),
    ("diagnosis", "dx"),
    ("differential diagnosis", "ddx"),
    ("antibiotics", "abx"),
    ("hydrochlorothiazide", "HCTZ"),
    # clinicians' truncations of the drug names the articles use
    ("simvastatin", "simva"),
    ("atorvastatin", "atorva"),
    ("rosuvastatin", "rosuva"),
    ("clarithromycin", "clarithro"),
    ("azithromycin", "azithro"),
    ("amiodarone", "amio"),
    ("prednisone", "pred"),
    ("oxycodone", "oxy"),
    # US brand names of the drugs the articles discuss
    ("sertraline", "Zoloft"),
    ("paroxetine", "Paxil"),
    ("fluoxetine", "Prozac"),
    ("citalopram", "Celexa"),
    ("escitalopram", "Lexapro"),
    ("venlafaxine", "Effexor"),
    ("alprazolam", "Xanax"),
    ("diazepam", "Valium"),
    ("lorazepam", "Ativan"),
    ("clonazepam", "Klonopin"),
    ("simvastatin", "Zocor"),
    ("atorvastatin", "Lipitor"),
    ("rosuvastatin", "Crestor"),
    ("levothyroxine", "Synthroid", "Levoxyl"),
    ("warfarin", "Coumadin", "Jantoven"),
    ("clopidogrel", "Plavix"),
    ("omeprazole", "Prilosec"),
    ("esomeprazole", "Nexium"),
    ("pantoprazole", "Protonix"),
    ("metformin", "Glucophage"),
    ("furosemide", "Lasix"),
    ("lisinopril", "Zestril", "Prinivil"),
    ("baclofen", "Lioresal"),
    ("clonidine", "Catapres"),
    ("metoprolol", "Lopressor", "Toprol"),
    ("tramadol", "Ultram"),
    ("oxycodone", "OxyContin"),
    ("allopurinol", "Zyloprim"),
    ("azathioprine", "Imuran"),
    ("febuxostat", "Uloric"),
    ("amiodarone", "Cordarone", "Pacerone"),
    ("azithromycin", "Zithromax"),
    ("clarithromycin", "Biaxin"),
    ("levofloxacin", "Levaquin"),
    ("sacubitril/valsartan", "Entresto"),
    ("doxylamine", "Unisom"),
    ("oxybutynin", "Ditropan"),
    ("ondansetron", "Zofran"),
    ("sumatriptan", "Imitrex"),
    ("lofexidine", "Lucemyra"),
    ("chlordiazepoxide", "Librium"),
    ("hydrocodone", "Vicodin", "Norco"),
    ("buprenorphine", "Suboxone", "Subutex"),
    ("linezolid", "Zyvox"),
    ("losartan", "Cozaar"),
    ("amlodipine", "Norvasc"),
    ("spironolactone", "Aldactone"),
    ("methylprednisolone", "Medrol"),
    ("dexamethasone", "Decadron"),
    ("lithium", "Lithobid"),
)

# A drug and its class, for articles that speak of the class ("NSAIDs add bleeding risk").
CLASSES: dict[str, str] = {
    **dict.fromkeys(("ibuprofen", "naproxen", "diclofenac", "celecoxib", "indomethacin",
                     "ketorolac", "meloxicam", "ketoprofen", "etoricoxib"), "NSAID"),
    **dict.fromkeys(("omeprazole", "esomeprazole", "lansoprazole", "pantoprazole",
                     "rabeprazole", "dexlansoprazole"), "proton pump inhibitor"),
    **dict.fromkeys(("sertraline", "fluoxetine", "citalopram", "escitalopram", "paroxetine",
                     "fluvoxamine"), "SSRI"),
    # the opioid analgesics of long-term therapy (methadone, tramadol and fentanyl are left to
    # the lexicon: the articles discuss them for the QT interval and serotonin toxicity too)
    **dict.fromkeys(("oxycodone", "hydrocodone", "morphine", "hydromorphone", "oxymorphone",
                     "tapentadol", "codeine"), "opioid"),
}

_PATTERNS = [[re.compile(rf"(?<![\w-]){re.escape(n)}(?![\w-])", re.IGNORECASE) for n in g]
             for g in GROUPS]


def with_synonyms(question: str) -> str:
    """The question with the main name of a group in parentheses after another name of it
    ("paracetamol (acetaminophen)"), unless the main name is there already, and a drug's
    class after the drug ("ibuprofen (an NSAID)") unless the class is named."""
    out = question
    for group, patterns in zip(GROUPS, _PATTERNS, strict=True):
        found = [(i, p.search(out)) for i, p in enumerate(patterns)]
        present = [(i, m) for i, m in found if m]
        if not present or len(present) > 1:
            continue
        i, m = present[0]
        if i == 0 or m is None:
            continue
        out = f"{out[: m.end()]} ({group[0]}){out[m.end():]}"
    for drug, cls in CLASSES.items():
        hit = re.search(rf"(?<![\w-]){drug}(?![\w-])", out, re.IGNORECASE)
        names = next((g for g in GROUPS if cls in g), (cls,))
        named = any(_mention(n).search(out) for n in names)
        if hit and not named:
            article = "an" if (cls[0] in "AEFHILMNORSX" if cls.isupper()
                               else cls[0] in "aeiou") else "a"
            out = f"{out[: hit.end()]} ({article} {cls}){out[hit.end():]}"
    return out


def main_name(name: str) -> str:
    """The main name of the synonyms group ``name`` belongs to ("Bactrim" ->
    "trimethoprim-sulfamethoxazole"), else ``name``."""
    key = name.casefold()
    return next((g[0] for g in GROUPS if any(n.casefold() == key for n in g)), name)


@cache
def _mention(name: str) -> re.Pattern[str]:
    """A name as a word of its own, plural allowed ("NSAID", "NSAIDs"), any case."""
    return re.compile(rf"(?<![\w-]){re.escape(name)}s?(?![\w-])", re.IGNORECASE)


# Every thing with more than one name: its names, each with its term set.
_NAMED: tuple[tuple[tuple[str, frozenset[str]], ...], ...] = tuple(
    tuple((n, term_set(n)) for n in names)
    for names in (*GROUPS, *((drug, cls) for drug, cls in CLASSES.items())))


def concepts(question: str) -> list[list[frozenset[str]]]:
    """The things a question names more than once, each as its names' term sets: "ibuprofen
    (an NSAID)" is one concept, [{ibuprofen}, {nsaid}], covered by a passage naming either."""
    out: list[list[frozenset[str]]] = []
    for names in _NAMED:
        present = [ts for n, ts in names if ts and _mention(n).search(question)]
        if len(present) > 1:
            out.append(present)
    return out


# Groups of patients for whom the evidence differs. A question about one of them is answered
# only from sentences that speak of that group: the adult dose is not an answer about children.
POPULATIONS: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE) for name, pattern in {
        "pregnancy": r"\b(pregnan\w*|gestation\w*|trimester\w*|antenatal|prenatal|postpartum|"
                     r"post-partum)\b",
        "breastfeeding": r"\b(breast-?fe\w*|lactat\w*|nursing mothers?)\b",
        "children": r"\b(child\w*|paediatric\w*|pediatric\w*|infant\w*|neonat\w*|newborns?|"
                    r"adolescen\w*|teen\w*|1[3-7][- ]?(?:years?|yrs?|y)[- ]?old|1[3-7] ?(?:yo|y/o)|"
                    r"kids?|toddlers?|bab(y|ies)|([1-9]|1[0-2])[- ]?(years?|yrs?|y)"
                    r"[- ]?old|([1-9]|1[0-2]) ?(yo|y/o|yr?s? old))\b",
        "dialysis": r"\b(h?a?e?mo-?dialys\w*|dialys\w*|ESRD|end-stage (renal|kidney))\b",
        "vaccination": r"\b(vaccin\w*|immuni[sz]ation\w*|jabs?)\b",
        "renal impairment": r"\b(e?GFRs?|CrCl|creatinine clearance|CKD|renal (impairment|"
                            r"failure|insufficiency|dysfunction|function)|kidney (disease|"
                            r"failure|impairment|function|problems?))\b",
        "older adults": r"\b(elderly|older (adults?|patients?|people|persons?)|geriatric\w*|"
                        r"older than \d+|over \d+|aged? (65|70|75|80))\b",
    }.items()
}


# "after the baby comes": the mother after delivery, not a child
_AFTER_BIRTH = re.compile(r"\bafter (?:the|my|her|your) (?:baby|delivery)(?: (?:comes|is born|"
                          r"arrives|was born|is here))?\b", re.IGNORECASE)


def populations(text: str) -> set[str]:
    """The groups of patients that ``text`` speaks of (see POPULATIONS)."""
    text = _AFTER_BIRTH.sub("postpartum", text)
    return {name for name, pattern in POPULATIONS.items() if pattern.search(text)}


_LEAD_IN = (r"(?:,?\s*(?:in|for|during|if|when|while|with|at|on)\s+(?:(?:a|an|the|she|he|they|"
            r"she's|he's|they're|i'm|her|his|my|is|are|was|pt|patient|patients)\s+){0,3})?")
_TRAILING_VALUE = r"(?:\s*(?:of|is|at|<|>|below|under|=)?\s*\d+(?:\.\d+)?(?:\s*ml/min\S*)?)?"


def without_modifiers(question: str) -> str:
    """The question without the groups of patients it names ("… taper in pregnancy?" -> "…
    taper?"): the general question a refusal about that group can suggest."""
    out = question
    for pattern in POPULATIONS.values():
        out = re.sub(_LEAD_IN + pattern.pattern + _TRAILING_VALUE, "", out, flags=re.IGNORECASE)
    out = " ".join(out.split()).rstrip(" ,.?")
    return f"{out}?" if out else ""
