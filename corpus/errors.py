"""The one error tree of oihwatch.

Anything a user can cause (bad config, bad file, unreachable server) is an
``OihwatchError`` whose message says what failed and what to do next; the CLI
turns it into one ``Error: …`` line and exit status 1 in one place.

    OihwatchError
    ├── ConfigError        a setting is missing, unknown or of the wrong type
    ├── InputError         a file or query the user gave cannot be read
    ├── StorageError       the SQLite store cannot be opened or written
    ├── HarvestError       NCBI E-utilities failed beyond the retry budget
    ├── ClassifierError    no model, too few labels, incompatible model file
    ├── DeliveryError      SMTP refused or unreachable, outbox not writable
    └── LockError          another oihwatch process holds the write lock
"""


class OihwatchError(Exception):
    """Base of every error a user can cause or fix."""


class ConfigError(OihwatchError):
    """A configuration value is missing, unknown or invalid."""


class InputError(OihwatchError):
    """An input file, record or query cannot be read."""


class StorageError(OihwatchError):
    """The corpus database cannot be opened, migrated or written."""


class HarvestError(OihwatchError):
    """Harvesting from NCBI failed; nothing was counted as 'no new records'."""


class ClassifierError(OihwatchError):
    """Training or classification cannot proceed."""


class DeliveryError(OihwatchError):
    """A digest could not be delivered."""


class LockError(OihwatchError):
    """Another oihwatch process is writing to the same corpus."""
