"""oihwatch: the application that wires the corpus, harvester, classifier and reports together."""

__version__ = "0.1.0"
