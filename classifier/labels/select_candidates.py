#!/usr/bin/env python
"""Select candidate records for manual labelling (curated.jsonl).

The regexes below only *choose which records a human reads*; they never assign a
label. Every label in curated.jsonl was decided by reading title + abstract.

Strata (all from records with an abstract):
  oih_cand   every record mentioning hyperalgesia/allodynia/opioid-induced/remifentanil/
             quantitative sensory testing/paradoxical pain, or "tolerance" with an opioid word
  ketamine   every record mentioning ketamine / NMDA / dextromethorphan / memantine / amantadine / MK-801
  genetics   every record mentioning polymorphism/genotype/OPRM1/COMT/CYP2D6/genetic/allele/...
  tapering   every record mentioning taper/dose reduction/detoxification/rotation/switch/
             withdrawal syndrome/weaning, plus a seeded sample of "discontinu*" records
  non_opioid seeded sample of records mentioning a non-opioid therapy
  random     seeded sample of the remaining corpus (background negatives)
  generic    seeded sample of corpus_generic_negatives.jsonl (far negatives)
  supplement every remaining record matching a second-pass vocabulary (anti-analgesia,
             opioid myoclonus, pain sensitivity, receptor genes, opioid conversion)

Records already in curated.jsonl are skipped, so re-running with a new --seed (or
larger --n-*) extends the set. Output: JSONL of {pmid, stratum, title, abstract}
for reading, written under /tmp (never into the repository: records are not copied).

Third pass (--wide): the strata above had all been read, so a wider net over what is left:
  wide_oih       hyperalgesia/sensitisation words, or tolerance, with an opioid word
  wide_genetics  genotype/polymorphism/variant/heritability/twin/gene/knockout/ethnic/sex differences
  wide_tapering  switch/rotation/conversion/methadone/dose escalation/naloxone, or stopping with an opioid
  wide_ketamine  magnesium/NMDA/ketamine left over
  wide_abuse     seeded sample of abuse/dependence/addiction/misuse records
  wide_random    seeded sample of the rest (background negatives)
  generic        seeded sample of corpus_generic_negatives.jsonl

Sixth pass (--sample N): N of the records still unlabelled, drawn at random with no keyword
filter. The keyword strata had found every candidate for the rare topics, so a random draw
adds what the classifier meets in practice: mostly negatives and non_opioid positives.

Ninth pass (--tagged DB): what a trained model does with the records no one has read yet,
from the store at DB after ``oihwatch train`` and ``classify --all`` (choosing by the model's
output, like choosing by keywords, decides only what is read; never a label):
  tagged_tapering / tagged_ketamine  every unlabelled record the model or a rule tags
  near_tapering      seeded sample of records scored just under the threshold (a third of it or more)
  tagged_non_opioid  seeded sample of the unlabelled records tagged non_opioid
  near_non_opioid    seeded sample of those scored just under the threshold (half of it or more)
  tagged_oih         the unlabelled records of highest relevance

Split step: ``select_candidates.py split NEW.jsonl`` gives every labelled line of NEW.jsonl
that has no ``split`` a seeded, stratified 35 % test share (the procedure of the first
pass, applied to the new lines only: existing records never change split), and merges
them into curated.jsonl sorted by pmid.

Usage: select_candidates.py [--data ../shared/data] [--seed 20240611] [--wide | --sample N | --tagged DB]
                            [--out /tmp/cands.jsonl]
       select_candidates.py split NEW.jsonl [--seed 20240611]
"""
import argparse
import json
import random
import re
import sqlite3
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]  # where candidates must never be written

PAT = {
    "oih_cand": r"hyperalges|allodyn|opioid-induced|opiate-induced|morphine-induced|remifentanil"
                r"|quantitative sensory|paradoxical",
    "tolerance": r"\btolerance\b",
    "opioid": r"opioid|opiate|morphine|fentanyl|remifentanil|methadone|oxycodone|hydromorphone"
              r"|buprenorphine|tramadol|codeine|sufentanil|alfentanil|heroin|narcotic",
    "ketamine": r"ketamin|\bnmda\b|n-methyl-d-aspartate|dextromethorphan|memantine|amantadine"
                r"|mk-801|dizocilpine",
    "genetics": r"polymorph|genotyp|oprm1|\bcomt\b|cyp2d6|genetic|heritab|epigenet|allele"
                r"|pharmacogen|knockout|\bsnp|gene expression",
    "tapering": r"taper|dose reduc|reduc\w* (the )?dose|detoxif|rotation|switch\w*"
                r"|withdrawal (syndrome|symptom|sign)|abstinen|opioid-free|wean",
    "discontinu": r"discontinu",
    "non_opioid": r"gabapentin|pregabalin|nsaid|ibuprofen|paracetamol|acetaminophen|ketorolac"
                  r"|diclofenac|antidepress|amitriptyl|duloxetine|clonidine|dexmedetomidine"
                  r"|physical therap|exercise|cognitive.behav|acupunct|nerve block|bupivacaine"
                  r"|lidocaine|\btens\b|spinal cord stim|neuromodul|celecoxib|naproxen|rofecoxib",
    # second pass, added after reading the first candidates: vocabulary of OIH-adjacent
    # papers (anti-analgesia, opioid myoclonus, pain sensitivity), receptor-gene papers
    # and opioid conversion/discontinuance papers that the patterns above missed
    "supplement": r"anti-?analges|myoclon|pain sensitivity|persistent pain associated with"
                  r"|receptor genes?\b|gene test|gene-network|equianalges"
                  r"|conver(?:sion|ted) (?:from|to) (?:oral|transdermal|intravenous|subcutaneous|codeine|morphine)"
                  r"|discontinuance",
}

# third pass (--wide): vocabulary around the topics rather than of them
WIDE = {
    "wide_oih": r"hyperalg|allodyn|sensiti[sz]|toleran",
    "wide_genetics": r"genotyp|polymorph|variant|heritab|\btwins?\b|\bgenes?\b|knockout|ethnic|sex differ"
                     r"|gender differ|\brace\b|mu-opioid receptor",
    "wide_tapering": r"switch|rotation|conver(sion|t)|equianalg|methadone|dose escalat|escalat\w* dose"
                     r"|increas\w* (opioid )?(dose|requirement)|naloxone|naltrexone",
    "wide_stop": r"discontinu|stop(ped|ping)|cessation|withdraw",
    "wide_ketamine": r"magnesium|nmda|ketamin",
    "wide_abuse": r"abuse|dependence|addict|misuse",
}
STRATA_ORDER = ("genetics", "tapering", "ketamine", "non_opioid")  # rarest topic first
TEST_SHARE = 0.35


def text(r):
    return (r["title"] + " " + (r["abstract"] or "")).lower()


def stratum(row):
    """oih first, else the record's rarest topic, else a negative from the corpus or a far one."""
    if row["oih"]:
        return "oih"
    for topic in STRATA_ORDER:
        if topic in row["topics"]:
            return topic
    return "far" if row.get("far") else "neg"


def split(new_path, curated_path, seed):
    """Assign test/train to the new lines (seeded, stratified, 35 %) and merge them into curated.jsonl."""
    old = [json.loads(l) for l in open(curated_path) if l.strip()]
    known = {r["pmid"] for r in old}
    new = [json.loads(l) for l in open(new_path) if l.strip()]
    new = [r for r in new if r["pmid"] not in known]
    rng = random.Random(seed)
    groups, strata = {}, {}
    for row in sorted(new, key=lambda r: r["pmid"]):
        strata[row["pmid"]] = stratum(row)
        groups.setdefault(strata[row["pmid"]], []).append(row)
    for name in sorted(groups):
        rows = groups[name]
        rng.shuffle(rows)
        n_test = round(len(rows) * TEST_SHARE)
        for i, row in enumerate(rows):
            row["split"] = "test" if i < n_test else "train"
    merged = sorted(old + new, key=lambda r: r["pmid"])
    keys = ("pmid", "oih", "topics", "note", "split")
    with open(curated_path, "w") as f:
        for row in merged:
            f.write(json.dumps({k: row[k] for k in keys if k in row}) + "\n")
    from collections import Counter
    print(len(new), "new:", dict(Counter((strata[r["pmid"]], r["split"]) for r in new)))


def take_wide(recs, gen, rng, take, m):
    w = {k: re.compile(p) for k, p in WIDE.items()}
    for name in ("wide_oih", "wide_genetics", "wide_tapering", "wide_ketamine"):
        pool = [r for r in recs if w[name].search(text(r))]
        if name == "wide_oih":
            pool = [r for r in pool if m["opioid"].search(text(r))]
        if name == "wide_tapering":
            pool += [r for r in recs if w["wide_stop"].search(text(r)) and m["opioid"].search(text(r))]
        take(pool, name)
    pool = sorted({r["pmid"]: r for r in recs if w["wide_abuse"].search(text(r))}.values(), key=lambda r: r["pmid"])
    take(rng.sample(pool, min(40, len(pool))), "wide_abuse")
    take(rng.sample(recs, 40), "wide_random")
    take(rng.sample(gen, min(15, len(gen))), "generic")


def tagged_pools(db_path, recs):
    """Unlabelled records by what the store's trained model made of them (--tagged)."""
    by_pmid = {r["pmid"]: r for r in recs}
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)

    def pmids(sql, *args):
        return [by_pmid[p] for (p,) in db.execute(sql, args) if p in by_pmid]

    def threshold(topic):
        return db.execute("SELECT MIN(score) FROM tags WHERE topic = ? AND assigned AND source = 'model'",
                          (topic,)).fetchone()[0] or 1.0

    pools = {}
    for topic in ("tapering", "ketamine", "non_opioid"):
        pools[f"tagged_{topic}"] = pmids("SELECT pmid FROM tags WHERE topic = ? AND assigned ORDER BY pmid", topic)
    pools["near_tapering"] = pmids("SELECT pmid FROM tags WHERE topic = 'tapering' AND NOT assigned AND score >= ? "
                                   "ORDER BY pmid", threshold("tapering") / 3)
    pools["near_non_opioid"] = pmids("SELECT pmid FROM tags WHERE topic = 'non_opioid' AND NOT assigned AND score >= ? "
                                     "ORDER BY pmid", threshold("non_opioid") / 2)
    pools["tagged_oih"] = pmids("SELECT pmid FROM classifications ORDER BY relevance DESC, pmid")
    return pools


def take_tagged(pools, rng, take, a):
    take(pools["tagged_tapering"], "tagged_tapering")
    take(pools["tagged_ketamine"], "tagged_ketamine")
    take(rng.sample(pools["near_tapering"], min(a.n_near_tapering, len(pools["near_tapering"]))), "near_tapering")
    take(rng.sample(pools["tagged_non_opioid"], min(a.n_non_opioid, len(pools["tagged_non_opioid"]))), "tagged_non_opioid")
    take(rng.sample(pools["near_non_opioid"], min(a.n_near_non_opioid, len(pools["near_non_opioid"]))), "near_non_opioid")
    take(pools["tagged_oih"][:a.n_oih], "tagged_oih")


def main():
    import sys
    if len(sys.argv) > 1 and sys.argv[1] == "split":
        sp = argparse.ArgumentParser()
        sp.add_argument("cmd")
        sp.add_argument("new")
        sp.add_argument("--curated", default="classifier/labels/curated.jsonl")
        sp.add_argument("--seed", type=int, default=20240611)
        b = sp.parse_args()
        split(b.new, b.curated, b.seed)
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--curated", default="classifier/labels/curated.jsonl")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--n-discontinu", type=int, default=25)
    ap.add_argument("--n-non-opioid", type=int, default=60)
    ap.add_argument("--n-random", type=int, default=25)
    ap.add_argument("--n-generic", type=int, default=30)
    ap.add_argument("--wide", action="store_true", help="third pass: the wider vocabulary only")
    ap.add_argument("--sample", type=int, default=0, help="sixth pass: N records drawn at random, no keyword filter")
    ap.add_argument("--tagged", metavar="DB", help="ninth pass: what the model in the store at DB tags")
    ap.add_argument("--n-near-tapering", type=int, default=30)
    ap.add_argument("--n-near-non-opioid", type=int, default=40)
    ap.add_argument("--n-oih", type=int, default=60)
    ap.add_argument("--out", default="/tmp/oihwatch_candidates.jsonl")
    a = ap.parse_args()
    if Path(a.out).resolve().is_relative_to(REPOSITORY):
        ap.error(f"--out {a.out} is inside the repository; candidates hold PubMed titles and abstracts, "
                 "which are not copied into it: write them under /tmp")
    rng = random.Random(a.seed)
    data = Path(a.data)
    if not (data / "corpus.jsonl").is_file():
        ap.error(f"no corpus.jsonl in {data}: give the shared data folder with --data")
    done = set()
    if Path(a.curated).exists():
        done = {json.loads(l)["pmid"] for l in open(a.curated) if l.strip()}
    recs = [json.loads(l) for l in open(data / "corpus.jsonl")]
    recs = sorted((r for r in recs if r["abstract"] and r["pmid"] not in done), key=lambda r: r["pmid"])
    m = {k: re.compile(p) for k, p in PAT.items()}
    out, seen = [], set()

    def take(rs, stratum):
        for r in rs:
            if r["pmid"] not in seen:
                seen.add(r["pmid"])
                out.append({"pmid": r["pmid"], "stratum": stratum, "title": r["title"], "abstract": r["abstract"]})

    gen = [json.loads(l) for l in open(data / "corpus_generic_negatives.jsonl")]
    gen = sorted((r for r in gen if r["abstract"] and r["pmid"] not in done), key=lambda r: r["pmid"])
    if a.wide:
        take_wide(recs, gen, rng, take, m)
        return write(out, a.out)
    if a.tagged:
        take_tagged(tagged_pools(a.tagged, recs), rng, take, a)
        return write(out, a.out)
    if a.sample:
        take(rng.sample(recs, min(a.sample, len(recs))), "sample")
        return write(out, a.out)
    take([r for r in recs if m["oih_cand"].search(text(r))
          or (m["tolerance"].search(text(r)) and m["opioid"].search(text(r)))], "oih_cand")
    take([r for r in recs if m["ketamine"].search(text(r))], "ketamine")
    take([r for r in recs if m["genetics"].search(text(r))], "genetics")
    take([r for r in recs if m["tapering"].search(text(r))], "tapering")
    pool = [r for r in recs if r["pmid"] not in seen and m["discontinu"].search(text(r))]
    take(rng.sample(pool, min(a.n_discontinu, len(pool))), "tapering_discontinu")
    pool = [r for r in recs if r["pmid"] not in seen and m["non_opioid"].search(text(r))]
    take(rng.sample(pool, min(a.n_non_opioid, len(pool))), "non_opioid")
    pool = [r for r in recs if r["pmid"] not in seen]
    take(rng.sample(pool, min(a.n_random, len(pool))), "random")
    take(rng.sample(gen, min(a.n_generic, len(gen))), "generic")
    # appended last so that it does not change the seeded samples above
    take([r for r in recs if m["supplement"].search(text(r))], "supplement")
    write(out, a.out)


def write(out, path):
    with open(path, "w") as f:
        for o in out:
            f.write(json.dumps(o) + "\n")
    from collections import Counter
    print(len(out), dict(Counter(o["stratum"] for o in out)), "->", path)


if __name__ == "__main__":
    main()
