"""Topic definitions, weak labels, the TF-IDF model, training, evaluation and study type."""
