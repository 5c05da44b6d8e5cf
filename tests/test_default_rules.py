"""The shipped topic rules know the wording of today's OIH literature, not only the 1990s corpus.

The shared corpus is old, so nothing trained on it can teach the rules words such as
deprescribing, OPRM1 A118G or esketamine: these sentences (written here, not taken from
records) pin what each default rule must and must not tag (definitions: DESIGN.md topics).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.hyperparameters import load_hyperparameters
from classifier.topics import topic_rules
from classifier.weak_labels import keyword_hits
from oihwatch.config import load_settings

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "oihwatch" / "default_config.toml"

TAGGED = {
    "tapering": [
        "Opioid deprescribing in primary care: a cluster randomised trial in chronic pain.",
        "Patients on long-term oxycodone were transitioned to buprenorphine using micro-induction.",
        "Voluntary opioid tapering reduced pain sensitivity in patients with chronic low back pain.",
        "Weaning from morphine after prolonged infusion in cancer pain.",
        "Opioid dose de-escalation and hyperalgesia in chronic pain.",
        "Rotation from high-dose morphine to methadone relieved opioid-induced hyperalgesia.",
        "Patients were rotated to methadone because of opioid-induced hyperalgesia.",
        "Switching opioids in patients with cancer pain and hyperalgesia.",
        "The opioid dose was reduced by 10% per week in patients with chronic pain.",
        "Reduction of the opioid dose improved pain in patients with suspected hyperalgesia.",
        "Decreasing the morphine dose paradoxically relieved pain in a patient with cancer.",
        "Low-dose buprenorphine initiation in patients on high-dose fentanyl for chronic pain.",
        "Buprenorphine microdosing in hospitalised patients with chronic pain on full agonist opioids.",
        "The Bernese method for starting buprenorphine in patients on long-term opioids for pain.",
    ],
    "ketamine": [
        "Intraoperative esketamine prevents remifentanil-induced hyperalgesia after laparoscopy.",
        "Magnesium sulfate infusion reduced postoperative pain and opioid consumption.",
        "MK-801 blocked morphine tolerance and thermal hyperalgesia in rats.",
        "An NMDA receptor antagonist prevented remifentanil-induced hyperalgesia.",
        "Nitrous oxide prevents remifentanil-induced hyperalgesia after surgery.",
        "The NR2B antagonist Ro 25-6981 reversed morphine-induced hyperalgesia in rats.",
        "A GluN2B-selective antagonist attenuated remifentanil-induced postoperative hyperalgesia.",
        "Intravenous MgSO4 reduced postoperative pain after remifentanil anaesthesia.",
    ],
    "genetics": [
        "The OPRM1 A118G polymorphism and postoperative opioid requirements.",
        "DNA methylation of the mu-opioid receptor gene in patients on long-term opioid therapy for pain.",
        "MicroRNA-219 regulates spinal sensitisation in remifentanil-induced hyperalgesia.",
        "A genome-wide association study of opioid dose in cancer pain.",
        "The COMT Val158Met variant and experimental pain sensitivity.",
        "CYP2D6 phenotype predicted analgesia with tramadol after surgery.",
        "Long non-coding RNA XIST contributes to remifentanil-induced hyperalgesia in rats.",
        "LncRNA NEAT1 regulates morphine tolerance and hyperalgesia.",
        "Circular RNA circ_0005075 in chronic morphine-induced hyperalgesia.",
        "A Mendelian randomization study of chronic pain and opioid use.",
        "A polygenic risk score for opioid dose requirements after surgery.",
    ],
    "non_opioid": [
        "Duloxetine for chronic low back pain in patients on long-term opioids.",
        "Flurbiprofen axetil attenuates remifentanil-induced hyperalgesia after thyroidectomy.",
        "Dexmedetomidine reduced opioid-induced hyperalgesia and postoperative pain.",
        "Mindfulness-oriented recovery enhancement for chronic pain and opioid misuse.",
        "Transcutaneous electrical acupoint stimulation for postoperative pain.",
        "Spinal cord stimulation for refractory neuropathic pain.",
        "An alpha-2 adrenergic agonist reduced opioid requirements and hyperalgesia after surgery.",
        "Mirogabalin for chronic neuropathic pain in patients on opioids.",
        "Serotonin-norepinephrine reuptake inhibitors for chronic pain.",
        "Cannabidiol for chronic pain in patients on long-term opioids.",
        "Vagus nerve stimulation for chronic pain.",
        "Deep brain stimulation for refractory pain.",
        "Hypnosis for procedural pain in children.",
        "Music therapy reduced postoperative pain and opioid use.",
        "Virtual reality for acute pain in burn dressing changes.",
    ],
    "oih": [
        "Opioid-induced hyperalgesia in patients on methadone maintenance.",
        "OIH is a paradoxical response to opioids.",
        "Hyperalgesia after remifentanil infusion in healthy volunteers.",
    ],
}

NOT_TAGGED = {
    "tapering": [
        "Benzodiazepine tapering in elderly patients with insomnia.",
        "Ten patients discontinued the study drug due to adverse events.",
        "Naloxone-precipitated withdrawal signs and hyperalgesia in morphine-dependent mice.",
        # opioid-sparing results of another treatment, and buprenorphine as the analgesic itself
        "Morphine doses were reduced in the ketamine group after surgery.",
        "Postoperative morphine consumption was lower in the gabapentin group.",
        "A low-dose buprenorphine patch for osteoarthritis pain.",
    ],
    "ketamine": [
        "Esketamine nasal spray for treatment-resistant depression.",
        "Ketamine for procedural sedation in children in the emergency department.",
        "Spinal NMDA receptor phosphorylation after chronic morphine in rats with neuropathic pain.",
        "NR2B expression increased in the spinal cord after morphine tolerance.",
        "Anaesthesia was maintained with nitrous oxide in oxygen and fentanyl; postoperative pain was recorded.",
    ],
    "genetics": [
        "The BRCA1 polymorphism and breast cancer risk.",
        "Codeine is converted to morphine by CYP2D6; analgesia after dental surgery.",  # a gene named as background
    ],
    "non_opioid": [
        "Gabapentin for refractory epilepsy and seizure control.",
        "Hypnosis and sedation with midazolam in the intensive care unit.",
    ],
    # Hyperalgesia an opioid only treats (capsaicin, burn) still fires the relevance rule: the
    # model learns that difference from curated labels, so the rule is pinned on plainer cases.
    "oih": ["Morphine and oxycodone for postoperative pain after knee surgery."],
}


@pytest.fixture(scope="module")
def rules():
    settings = load_settings(DEFAULT_CONFIG, {"OIHWATCH_NCBI_EMAIL": "rules@example.org"})
    return topic_rules({name: topic.model_dump() for name, topic in settings.topics.items()}, load_hyperparameters()["relevance"])


def _tagged(rules, label: str, texts: list[str]) -> list[bool]:
    column = [rule.name for rule in rules].index(label)
    return [bool(hit) for hit in keyword_hits(texts, rules)[:, column]]


@pytest.mark.parametrize("label", sorted(TAGGED))
def test_each_default_rule_tags_todays_wording(rules, label):
    texts = TAGGED[label]
    assert dict(zip(texts, _tagged(rules, label, texts))) == dict.fromkeys(texts, True)


@pytest.mark.parametrize("label", sorted(NOT_TAGGED))
def test_each_default_rule_leaves_the_off_topic_use_of_its_words(rules, label):
    texts = NOT_TAGGED[label]
    assert dict(zip(texts, _tagged(rules, label, texts))) == dict.fromkeys(texts, False)
