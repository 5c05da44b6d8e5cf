"""Digest assembly, Jinja templates, charts, e-mail delivery and the archive."""
